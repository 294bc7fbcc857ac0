/**
 * Checking events that arrive over HTTP, with the worker's own rules: the
 * same decoder, the same model routing, the same feature and scaling checks,
 * so that an event the gateway accepts is one the worker will step (short of
 * `out_of_order`, which depends on the stream's state), and one it refuses
 * gets the code the worker's dead letter would carry.
 */
import { DEAD_LETTER_CODES, isStreamcellError, decodeEvent, readFeatureValues, type ErrorCode } from '@streamcell/protocol';
import { routeModel, type ModelRoutes } from '@streamcell/model';
import type { GatewayModels } from './models.ts';

/** An event ready to produce: key = stream id, value = the event's JSON. */
export interface AcceptedEvent {
  readonly index: number;
  readonly stream: string;
  readonly value: Buffer;
}

/**
 * Every code {@link checkEvents} refuses with: the worker's dead-letter codes,
 * as the gateway refuses what the worker would dead-letter. (The gateway's
 * own codes, such as `unauthorized` or `overloaded`, refuse a request before
 * its events are read.)
 */
export const REFUSAL_CODES: readonly ErrorCode[] = DEAD_LETTER_CODES;

/** An event refused, with the HTTP status that code maps to. */
export interface RefusedEvent {
  readonly index: number;
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
}

/** Settings of {@link checkEvents}. */
export interface IngestRules extends ModelRoutes {
  /** The topic accepted events go to; its TOPIC_MODELS route applies. */
  readonly eventsTopic: string;
  readonly maxEventBytes: number;
  readonly maxBatchEvents: number;
}

/**
 * HTTP status for a refusal: 413 when too large, 422 when the event is
 * well-formed JSON of the right shape that the model cannot take, 400 for the rest.
 */
export function statusOf(code: ErrorCode): number {
  switch (code) {
    case 'too_large':
      return 413;
    case 'unknown_model':
    case 'wrong_dimension':
    case 'unknown_feature':
    case 'non_finite':
    case 'out_of_order':
      return 422;
    case 'unauthorized':
      return 401;
    case 'not_found':
      return 404;
    default:
      return 400;
  }
}

function refuse(index: number, code: ErrorCode, message: string): RefusedEvent {
  return { index, status: statusOf(code), code, message };
}

/**
 * Parses a request body (one event object, or an array of them) and checks
 * every event. Returns either a refusal of the whole request (not JSON, not
 * an object or array, an empty or too long batch) or one verdict per event.
 */
export function checkEvents(
  body: Buffer,
  rules: IngestRules,
  models: GatewayModels,
): { request: RefusedEvent } | { accepted: AcceptedEvent[]; refused: RefusedEvent[]; batch: boolean } {
  if (body.length === 0) return { request: refuse(-1, 'malformed_json', 'the request has no body; send one event object or an array of them') };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    return { request: refuse(-1, 'malformed_json', `not JSON: ${(err as Error).message}`) };
  }
  const batch = Array.isArray(parsed);
  const items: unknown[] = batch ? (parsed as unknown[]) : [parsed];
  if (items.length === 0) return { request: refuse(-1, 'schema', 'the batch is empty') };
  if (items.length > rules.maxBatchEvents) return { request: refuse(-1, 'too_large', `the batch has ${items.length} events; at most ${rules.maxBatchEvents}`) };
  if (!batch && (typeof parsed !== 'object' || parsed === null)) {
    return { request: refuse(-1, 'schema', 'the body must be one event object or an array of them') };
  }
  const accepted: AcceptedEvent[] = [];
  const refused: RefusedEvent[] = [];
  const now = Date.now();
  for (let index = 0; index < items.length; index++) {
    const verdict = checkOne(items[index], index, rules, models, now);
    if ('code' in verdict) refused.push(verdict);
    else accepted.push(verdict);
  }
  return { accepted, refused, batch };
}

/**
 * The event's JSON as bytes, or undefined when it is nested too deeply to
 * serialise: JSON.parse takes any depth, JSON.stringify recurses and runs out
 * of stack (a RangeError) on a few thousand levels of `[[[...]]]`.
 */
function serialise(item: unknown): Buffer | undefined {
  try {
    return Buffer.from(JSON.stringify(item) ?? 'null', 'utf8');
  } catch (err) {
    if (err instanceof RangeError) return undefined;
    throw err;
  }
}

function checkOne(item: unknown, index: number, rules: IngestRules, models: GatewayModels, now: number): AcceptedEvent | RefusedEvent {
  // The worker decodes bytes; give it the bytes that will be produced.
  const value = serialise(item);
  if (value === undefined) return refuse(index, 'schema', 'the event is nested too deeply');
  // No Kafka key yet: the key will be the `stream` field, so the event must carry one.
  const decoded = decodeEvent(value, null, { maxEventBytes: rules.maxEventBytes, fallbackTs: now });
  if (!decoded.ok) return refuse(index, decoded.code, decoded.message);
  const e = decoded.event;
  const modelName = routeModel(e.model, rules.eventsTopic, rules, models);
  const model = modelName === undefined ? undefined : models.get(modelName);
  if (!model) {
    const why = modelName === undefined ? 'the event names no model and no default is configured' : `model "${modelName.slice(0, 64)}" is not loaded`;
    return refuse(index, 'unknown_model', why);
  }
  const raw = new Float64Array(model.manifest.inputSize);
  const bad = readFeatureValues(e.values, model.manifest.features, raw);
  if (bad) return refuse(index, bad.code, bad.message);
  try {
    model.scaler.scaleRow(raw, new Float32Array(model.manifest.inputSize));
  } catch (err) {
    if (isStreamcellError(err)) return refuse(index, err.code, err.message);
    throw err;
  }
  return { index, stream: e.stream, value };
}
