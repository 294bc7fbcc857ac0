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
 * forecast is known. The source coordinates are the idempotency key: a replay
 * after a crash publishes the same content under the same key.
 */

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
 * object per horizon step, keyed by target name.
 */
export function forecastSteps(flat: ArrayLike<number>, targets: readonly string[], horizon: number): Record<string, number>[] {
  if (flat.length !== targets.length * horizon) {
    throw new RangeError(`forecast has ${flat.length} values; expected horizon ${horizon} x ${targets.length} targets`);
  }
  const steps: Record<string, number>[] = [];
  for (let s = 0; s < horizon; s++) {
    const step: Record<string, number> = {};
    for (let t = 0; t < targets.length; t++) step[targets[t]!] = flat[s * targets.length + t]!;
    steps.push(step);
  }
  return steps;
}

/** Serialises a forecast message (the Kafka value). */
export function encodeForecast(message: ForecastMessage): Buffer {
  return Buffer.from(JSON.stringify(message), 'utf8');
}
