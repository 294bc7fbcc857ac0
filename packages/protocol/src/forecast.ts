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
 * forecast is known. Forecasts and errors are written at float32 precision,
 * the precision the model computes in: the shortest decimal that reads back
 * to the same float32 (see json-number.ts). The source coordinates are the idempotency key: a replay
 * after a crash publishes the same content under the same key.
 */
import { float32Json, float32Number, numberJson } from './json-number.ts';

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
  return `${source.topic}/${source.partition}/${source.offset}`;
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
 * {@link float32Number} make them; non-finite numbers become null), with the parts that never change for the
 * model (its name and version, the target keys) prepared once. The worker
 * writes one message per event, so this is on its hot path.
 */
export class ForecastWriter {
  readonly #horizon: number;
  readonly #targets: number;
  readonly #model: string;
  /** Per target position in a forecast step, in the order JSON.stringify emits them: [`"name":`, target index]. */
  readonly #stepKeys: readonly (readonly [string, number])[];
  readonly #errorKeys: readonly (readonly [string, number])[];
  #topic = '';
  #topicJson = '';

  constructor(model: { readonly name: string; readonly version: string }, targets: readonly string[], horizon: number) {
    this.#horizon = horizon;
    this.#targets = targets.length;
    this.#model = `,"model":${JSON.stringify({ name: model.name, version: model.version })},"source":{"topic":`;
    // Key order as the objects forecastSteps (assignment) and Object.fromEntries build them:
    // integer-like names first, ascending, then the rest in order.
    const assigned: Record<string, number> = {};
    targets.forEach((t, j) => {
      assigned[t] = j;
    });
    const entries = Object.fromEntries(targets.map((t, j) => [t, j])) as Record<string, number>;
    const keys = (o: Record<string, number>): [string, number][] => Object.keys(o).map((k) => [`${JSON.stringify(k)}:`, o[k]!]);
    this.#stepKeys = keys(assigned);
    this.#errorKeys = keys(entries);
  }

  /**
   * One message: `forecast` is the head output laid out [step1 targets...,
   * step2 targets..., ...] (horizon x targets values), `error` the one-step
   * error per target or null when it is not known.
   */
  write(stream: string, ts: number, topic: string, partition: number, offset: string, forecast: ArrayLike<number>, error: ArrayLike<number> | null): Buffer {
    const T = this.#targets;
    if (forecast.length < this.#horizon * T || (error !== null && error.length < T)) {
      throw new RangeError(`forecast needs ${this.#horizon * T} values and error ${T}; got ${forecast.length} and ${error?.length ?? 'none'}`);
    }
    if (topic !== this.#topic) {
      this.#topic = topic;
      this.#topicJson = JSON.stringify(topic);
    }
    let s = `{"stream":${JSON.stringify(stream)},"ts":${numberJson(ts)}${this.#model}${this.#topicJson},"partition":${numberJson(partition)},"offset":${JSON.stringify(offset)}},"forecast":[`;
    for (let step = 0; step < this.#horizon; step++) {
      s += step === 0 ? '{' : ',{';
      const base = step * T;
      for (let k = 0; k < this.#stepKeys.length; k++) {
        const [key, j] = this.#stepKeys[k]!;
        s += k === 0 ? key : `,${key}`;
        s += float32Json(forecast[base + j]!);
      }
      s += '}';
    }
    s += ']';
    if (error !== null) {
      s += ',"error":{';
      for (let k = 0; k < this.#errorKeys.length; k++) {
        const [key, j] = this.#errorKeys[k]!;
        s += k === 0 ? key : `,${key}`;
        s += float32Json(error[j]!);
      }
      s += '}';
    }
    s += '}';
    return Buffer.from(s, 'utf8');
  }
}
