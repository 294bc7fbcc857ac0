/**
 * Forecast messages: JSON, Kafka key = stream id. One per applied event.
 *
 *   {"stream":"sensor-42","ts":1764219600000,
 *    "model":{"name":"sensor-lstm","version":"3"},
 *    "source":{"topic":"events","partition":4,"offset":"1812"},
 *    "forecast":[{"temp":21.6,"humidity":40.1},{"temp":21.7,"humidity":40.0}],
 *    "error":{"temp":-0.12,"humidity":0.3}}
 *
 * `forecast[k]` is the prediction k+1 steps ahead. `error` (actual minus the
 * one-step-ahead forecast made at the previous event) is present when that
 * forecast is known. Forecasts are written at float32 precision, the
 * precision the model computes in: the shortest decimal that reads back to
 * the same float32 (see json-number.ts). So are errors (a double difference
 * of the actual and the float32 forecast, rounded to float32: an error above
 * float32's range, about 3.4e38, is written null). The source coordinates
 * are the idempotency key: a replay after a crash publishes the same content
 * under the same key.
 */
import { MAX_NUMBER_JSON_BYTES, float32Number, writeFloat32Json, writeNumberJson } from './json-number.ts';

/** Where an event came from; also the forecast's idempotency key. */
export interface SourceCoordinates {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offsets are 64-bit; kept as the decimal string kafkajs uses. */
  readonly offset: string;
}

/** A forecast as published. */
export interface ForecastMessage {
  readonly stream: string;
  readonly ts: number;
  readonly model: { readonly name: string; readonly version: string };
  readonly source: SourceCoordinates;
  readonly forecast: readonly Readonly<Record<string, number>>[];
  readonly error?: Readonly<Record<string, number>>;
}

/** Header carrying `topic/partition/offset` of the source event. */
export const IDEMPOTENCY_HEADER = 'streamcell-idempotency-key';

/** The idempotency key of a forecast: its source event's coordinates. */
export function idempotencyKey(source: SourceCoordinates): string {
  return idempotencyKeyOf(source.topic, source.partition, source.offset);
}

/** {@link idempotencyKey} from the coordinates one by one. */
export function idempotencyKeyOf(topic: string, partition: number, offset: string): string {
  return `${topic}/${partition}/${offset}`;
}

/**
 * Lays a flat head output [step1 targets..., step2 targets..., ...] out as one
 * object per horizon step, keyed by target name, each value at float32
 * precision ({@link float32Number}) as forecast messages carry it.
 */
export function forecastSteps(flat: ArrayLike<number>, targets: readonly string[], horizon: number): Record<string, number>[] {
  if (flat.length !== targets.length * horizon) {
    throw new RangeError(`forecast has ${flat.length} values; expected horizon ${horizon} x ${targets.length} targets`);
  }
  const steps: Record<string, number>[] = [];
  for (let s = 0; s < horizon; s++) {
    const step: Record<string, number> = {};
    for (let t = 0; t < targets.length; t++) step[targets[t]!] = float32Number(flat[s * targets.length + t]!);
    steps.push(step);
  }
  return steps;
}

/** Serialises a forecast message (the Kafka value). */
export function encodeForecast(message: ForecastMessage): Buffer {
  return Buffer.from(JSON.stringify(message), 'utf8');
}

/**
 * Writes the forecast messages of one model straight from its numbers,
 * without building the message object: the very bytes {@link encodeForecast}
 * gives for the same message (JSON.stringify's key order; forecast and error
 * values at float32 precision, as {@link forecastSteps} and
 * {@link float32Number} make them; non-finite numbers become null), with the
 * parts that never change for the model (its name and version, the target
 * keys) prepared once, into shared byte slabs. The worker writes one
 * message per event, so this is on its hot path.
 */
export class ForecastWriter {
  readonly #horizon: number;
  readonly #targets: number;
  /** `,"model":{...},"source":{"topic":` */
  readonly #model: Buffer;
  /** Per target position in a forecast step, in the order JSON.stringify emits them: `"name":` and `,"name":`, and the target index. */
  readonly #stepKeys: readonly KeyBytes[];
  readonly #errorKeys: readonly KeyBytes[];
  /** Bytes a message needs besides its stream, topic and offset. */
  readonly #bound: number;
  #topic = '';
  #topicJson: Buffer = Buffer.alloc(0);
  /**
   * Messages are written one after another into this slab and handed out as
   * views of it (no copy, no allocation of their own); a full slab is left to
   * the messages still viewing it, and a new one taken.
   */
  #slab: Buffer = Buffer.allocUnsafeSlow(0);
  #used = 0;

  constructor(model: { readonly name: string; readonly version: string }, targets: readonly string[], horizon: number) {
    this.#horizon = horizon;
    this.#targets = targets.length;
    this.#model = Buffer.from(`,"model":${JSON.stringify({ name: model.name, version: model.version })},"source":{"topic":`, 'utf8');
    // Key order as the objects forecastSteps (assignment) and Object.fromEntries build them:
    // integer-like names first, ascending, then the rest in order.
    const assigned: Record<string, number> = {};
    targets.forEach((t, j) => {
      assigned[t] = j;
    });
    const entries = Object.fromEntries(targets.map((t, j) => [t, j])) as Record<string, number>;
    const keys = (o: Record<string, number>): KeyBytes[] =>
      Object.keys(o).map((k) => ({ first: Buffer.from(`${JSON.stringify(k)}:`, 'utf8'), next: Buffer.from(`,${JSON.stringify(k)}:`, 'utf8'), index: o[k]! }));
    this.#stepKeys = keys(assigned);
    this.#errorKeys = keys(entries);
    const keyBytes = this.#stepKeys.reduce((n, k) => n + k.next.length, 0);
    const values = (horizon + 1) * targets.length + 2;
    this.#bound = 128 + this.#model.length + (horizon + 1) * keyBytes + values * MAX_NUMBER_JSON_BYTES;
  }

  /**
   * One message: `forecast` is the head output laid out [step1 targets...,
   * step2 targets..., ...] (horizon x targets values), `error` the one-step
   * error per target or null when it is not known. The result is a view of
   * a slab other messages share: read it, do not write to it.
   */
  write(stream: string, ts: number, topic: string, partition: number, offset: string, forecast: ArrayLike<number>, error: ArrayLike<number> | null): Buffer {
    const need = this.maxBytes(stream, topic, offset);
    if (this.#slab.length - this.#used < need) {
      this.#slab = Buffer.allocUnsafeSlow(Math.max(need, SLAB_BYTES));
      this.#used = 0;
    }
    const start = this.#used;
    this.#used = this.writeInto(this.#slab, start, stream, ts, topic, partition, offset, forecast, error);
    return this.#slab.subarray(start, this.#used);
  }

  /** The most bytes {@link writeInto} may write for a message of this stream, topic and offset. */
  maxBytes(stream: string, topic: string, offset: string): number {
    // A JSON string takes at most 6 bytes per UTF-16 unit (\u escapes; UTF-8 takes at most 3), and its quotes.
    return this.#bound + 6 * (topic.length + stream.length + offset.length) + 6;
  }

  /**
   * Writes the message {@link write} would give into `out` at `at`, which
   * has {@link maxBytes} free; returns where it ends. For a caller that
   * keeps many messages back to back in a buffer of its own.
   */
  writeInto(out: Buffer, at: number, stream: string, ts: number, topic: string, partition: number, offset: string, forecast: ArrayLike<number>, error: ArrayLike<number> | null): number {
    const T = this.#targets;
    if (forecast.length < this.#horizon * T || (error !== null && error.length < T)) {
      throw new RangeError(`forecast needs ${this.#horizon * T} values and error ${T}; got ${forecast.length} and ${error?.length ?? 'none'}`);
    }
    if (topic !== this.#topic) {
      this.#topic = topic;
      this.#topicJson = Buffer.from(JSON.stringify(topic), 'utf8');
    }
    at = putBytes(out, at, STREAM);
    at = putJsonString(out, at, stream);
    at = putBytes(out, at, TS);
    at = writeNumberJson(out, at, ts);
    at = putBytes(out, at, this.#model);
    at = putBytes(out, at, this.#topicJson);
    at = putBytes(out, at, PARTITION);
    at = writeNumberJson(out, at, partition);
    at = putBytes(out, at, OFFSET);
    at = putJsonString(out, at, offset);
    at = putBytes(out, at, FORECAST);
    for (let step = 0; step < this.#horizon; step++) {
      out[at++] = step === 0 ? OPEN_BRACE : COMMA;
      if (step > 0) out[at++] = OPEN_BRACE;
      const base = step * T;
      for (let k = 0; k < this.#stepKeys.length; k++) {
        const key = this.#stepKeys[k]!;
        at = putBytes(out, at, k === 0 ? key.first : key.next);
        at = writeFloat32Json(out, at, forecast[base + key.index]!);
      }
      out[at++] = CLOSE_BRACE;
    }
    out[at++] = CLOSE_BRACKET;
    if (error !== null) {
      at = putBytes(out, at, ERROR);
      for (let k = 0; k < this.#errorKeys.length; k++) {
        const key = this.#errorKeys[k]!;
        at = putBytes(out, at, k === 0 ? key.first : key.next);
        at = writeFloat32Json(out, at, error[key.index]!);
      }
      out[at++] = CLOSE_BRACE;
    }
    out[at++] = CLOSE_BRACE;
    return at;
  }
}

interface KeyBytes {
  readonly first: Buffer;
  readonly next: Buffer;
  readonly index: number;
}

/** Bytes of a {@link ForecastWriter} slab: a hundred or so messages. */
const SLAB_BYTES = 64 * 1024;
const STREAM = Buffer.from('{"stream":');
const TS = Buffer.from(',"ts":');
const PARTITION = Buffer.from(',"partition":');
const OFFSET = Buffer.from(',"offset":');
const FORECAST = Buffer.from('},"forecast":[');
const ERROR = Buffer.from(',"error":{');
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const CLOSE_BRACKET = 93;
const COMMA = 44;
const QUOTE = 34;
const BACKSLASH = 92;

/** Copies `bytes` to `out` at `at`; returns the end. Short copies in a loop: cheaper than a native call. */
function putBytes(out: Uint8Array, at: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (n > 32) {
    out.set(bytes, at);
    return at + n;
  }
  for (let i = 0; i < n; i++) out[at + i] = bytes[i]!;
  return at + n;
}

/**
 * Writes `s` as JSON.stringify spells it, in UTF-8, at `at`; returns the end.
 * Printable ASCII without quote or backslash (most stream ids, every offset)
 * is written as it is; anything else goes through JSON.stringify.
 */
function putJsonString(out: Buffer, at: number, s: string): number {
  const n = s.length;
  out[at] = QUOTE;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) return putString(out, at, JSON.stringify(s));
    out[at + 1 + i] = c;
  }
  out[at + 1 + n] = QUOTE;
  return at + n + 2;
}

/** Writes `s` as UTF-8 at `at`; returns the end. */
function putString(out: Buffer, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return at + out.write(s, at, 'utf8');
    out[at + i] = c;
  }
  return at + s.length;
}
