/**
 * Events as they arrive on Kafka: JSON, key = stream id.
 *
 *   {"stream":"sensor-42","ts":1764219600000,"values":{"temp":21.5,"humidity":40.2}}
 *
 * `values` by feature name or as an array in the model's feature order; `ts`
 * epoch milliseconds or ISO-8601 (default: the Kafka append time); optional
 * `model`, `reset` (zero the state before this step) and `end` (delete the
 * state after it). Unknown top-level fields are ignored so that producers can
 * carry their own metadata.
 *
 * Decoding never throws for bad data: it returns a reason code from the one
 * list in errors.ts, which the worker turns into a dead letter.
 */
import type { ErrorCode } from './errors.ts';

/** Reason codes an event can be rejected with; dead letters carry them. */
export const DEAD_LETTER_CODES = [
  'malformed_json',
  'schema',
  'wrong_dimension',
  'unknown_feature',
  'non_finite',
  'stream_id_invalid',
  'unknown_model',
  'out_of_order',
  'too_large',
] as const satisfies readonly ErrorCode[];

/** One of {@link DEAD_LETTER_CODES}. */
export type DeadLetterCode = (typeof DEAD_LETTER_CODES)[number];

/** A rejected event: why, in one code and one sentence. */
export interface Rejection {
  readonly ok: false;
  readonly code: DeadLetterCode;
  readonly message: string;
}

/** A structurally valid event, not yet matched to a model's features. */
export interface DecodedEvent {
  readonly stream: string;
  /** Event time, epoch milliseconds. */
  readonly ts: number;
  readonly values: readonly unknown[] | Readonly<Record<string, unknown>>;
  readonly model: string | undefined;
  readonly reset: boolean;
  readonly end: boolean;
}

/** Limits applied while decoding. */
export interface DecodeOptions {
  /** Events larger than this many bytes are rejected as `too_large`. */
  readonly maxEventBytes: number;
  /** Event time used when the event has no `ts` (the Kafka append time). */
  readonly fallbackTs: number;
}

/** Longest stream id accepted, in UTF-8 bytes. */
export const MAX_STREAM_ID_BYTES = 256;

/** Default for {@link DecodeOptions.maxEventBytes}. */
export const DEFAULT_MAX_EVENT_BYTES = 64 * 1024;

const reject = (code: DeadLetterCode, message: string): Rejection => ({ ok: false, code, message });

// C0 and C1 control characters, DEL included: they break logs and key tooling.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** Checks a stream id: non-empty, at most 256 UTF-8 bytes, no control characters. */
export function checkStreamId(id: string): Rejection | undefined {
  if (id.length === 0) return reject('stream_id_invalid', 'stream id is empty');
  // UTF-8 takes at most 3 bytes per UTF-16 unit: short ids need no count.
  const bytes = id.length * 3 <= MAX_STREAM_ID_BYTES ? 0 : Buffer.byteLength(id, 'utf8');
  if (bytes > MAX_STREAM_ID_BYTES) return reject('stream_id_invalid', `stream id is ${bytes} bytes; at most ${MAX_STREAM_ID_BYTES}`);
  if (CONTROL_CHARS.test(id)) return reject('stream_id_invalid', 'stream id contains a control character');
  return undefined;
}

/** The bytes as UTF-8 text; a Buffer (what the Kafka client hands over) is read without making a view of it first. */
function utf8(bytes: Uint8Array): string {
  return Buffer.isBuffer(bytes) ? bytes.toString('utf8') : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseTs(raw: unknown, fallback: number): number | Rejection {
  if (raw === undefined) return fallback;
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw) || raw < 0) return reject('schema', `ts ${raw} is not a non-negative epoch time in milliseconds`);
    return raw;
  }
  if (typeof raw === 'string') {
    // Date.parse alone accepts loose forms ("March 7"); insist on ISO-8601's shape.
    const t = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw) ? Date.parse(raw) : Number.NaN;
    if (Number.isNaN(t)) return reject('schema', `ts "${raw.slice(0, 64)}" is not ISO-8601 or epoch milliseconds`);
    return t;
  }
  return reject('schema', `ts must be a number (epoch ms) or an ISO-8601 string, got ${typeof raw}`);
}

/**
 * Decodes one Kafka message into an event, or says why it cannot be one.
 * The stream id is the `stream` field, else the message key; when both are
 * present they must agree, since the key decides the partition and so the
 * order the stream's events are seen in.
 */
export function decodeEvent(value: Uint8Array | null, key: Uint8Array | null, options: DecodeOptions): { ok: true; event: DecodedEvent } | Rejection {
  if (value === null || value.length === 0) return reject('malformed_json', 'message has no value');
  if (value.length > options.maxEventBytes) return reject('too_large', `event is ${value.length} bytes; at most ${options.maxEventBytes}`);
  let body: unknown;
  try {
    body = JSON.parse(utf8(value));
  } catch (err) {
    return reject('malformed_json', `not JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(body)) return reject('schema', 'event must be a JSON object');

  const keyText = key === null || key.length === 0 ? undefined : utf8(key);
  const field = body.stream;
  if (field !== undefined && typeof field !== 'string') return reject('schema', 'stream must be a string');
  const stream = field ?? keyText;
  if (stream === undefined) return reject('stream_id_invalid', 'event has no stream field and the message no key');
  const badId = checkStreamId(stream);
  if (badId) return badId;
  if (field !== undefined && keyText !== undefined && field !== keyText) {
    return reject('schema', 'stream field disagrees with the message key');
  }

  const ts = parseTs(body.ts, options.fallbackTs);
  if (typeof ts !== 'number') return ts;

  const values = body.values;
  if (!Array.isArray(values) && !isPlainObject(values)) {
    return reject('schema', 'values must be an array in feature order or an object by feature name');
  }
  const model = body.model;
  if (model !== undefined && (typeof model !== 'string' || model.length === 0)) return reject('schema', 'model must be a non-empty string');
  for (const flag of ['reset', 'end'] as const) {
    if (body[flag] !== undefined && typeof body[flag] !== 'boolean') return reject('schema', `${flag} must be true or false`);
  }
  return {
    ok: true,
    event: { stream, ts, values, model, reset: body.reset === true, end: body.end === true },
  };
}

/**
 * Matches an event's values to a model's features and writes them, in feature
 * order, into `row` (length = features.length). Returns a rejection for a
 * wrong count, a name the model does not know, a missing feature, or a value
 * that is not a finite number.
 */
export function readFeatureValues(
  values: DecodedEvent['values'],
  features: readonly string[],
  row: Float64Array,
): Rejection | undefined {
  if (Array.isArray(values)) {
    if (values.length !== features.length) {
      return reject('wrong_dimension', `values has ${values.length} entries; the model takes ${features.length} (${features.join(', ')})`);
    }
    for (let i = 0; i < values.length; i++) {
      const bad = storeValue(values[i], features[i]!, row, i);
      if (bad) return bad;
    }
    return undefined;
  }
  const byName = values as Readonly<Record<string, unknown>>;
  for (const name of Object.keys(byName)) {
    if (!features.includes(name)) return reject('unknown_feature', `unknown feature "${name.slice(0, 64)}"; the model takes ${features.join(', ')}`);
  }
  for (let i = 0; i < features.length; i++) {
    const name = features[i]!;
    if (!(name in byName)) return reject('wrong_dimension', `missing value for feature "${name}"`);
    const bad = storeValue(byName[name], name, row, i);
    if (bad) return bad;
  }
  return undefined;
}

function storeValue(v: unknown, name: string, row: Float64Array, i: number): Rejection | undefined {
  if (typeof v !== 'number') {
    if (v === null) return reject('non_finite', `value for "${name}" is null`);
    return reject('schema', `value for "${name}" must be a number, got ${typeof v}`);
  }
  // JSON cannot spell NaN or Infinity, but 1e999 parses to Infinity.
  if (!Number.isFinite(v)) return reject('non_finite', `value for "${name}" is not finite`);
  row[i] = v;
  return undefined;
}
