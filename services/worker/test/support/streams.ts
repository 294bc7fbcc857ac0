/**
 * Test streams and what they should produce: events built from real weather
 * (Seattle, vega-datasets) for the repository's weather model, the offline
 * answer for one stream (`streamcell predict` in process), and the answer of
 * an uninterrupted in-memory run of the same Kafka messages.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Message } from 'kafkajs';
import { expect } from 'vitest';
import { predictRows } from '@streamcell/cli';
import { loadModel, type LoadedModel } from '@streamcell/model';
import { IDEMPOTENCY_HEADER } from '@streamcell/protocol';
import type { Redis } from 'ioredis';
import type { InboundMessage } from '@streamcell/streams';
import type { PipelineConfig } from '../../src/pipeline.ts';
import { pipelineHarness, recordingControl } from '../helpers.ts';
import type { ReadMessage } from './kafka.ts';
import { REPO_MODELS_DIR, REPO_ROOT } from './worker-process.ts';

export const MODEL = 'weather';
export const FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind'] as const;
export const DAY = 86_400_000;
export const T0 = Date.UTC(2012, 0, 1);

let weather: number[][] | undefined;

/** Seattle's daily weather 2012-2015, one row of FEATURES per day. */
export function weatherRows(): number[][] {
  if (weather === undefined) {
    const csv = readFileSync(join(REPO_ROOT, 'node_modules', 'vega-datasets', 'data', 'seattle-weather.csv'), 'utf8');
    const [header, ...lines] = csv.trim().split('\n');
    const cols = header!.split(',');
    weather = lines.map((l) => {
      const cells = l.split(',');
      return FEATURES.map((f) => Number(cells[cols.indexOf(f)]));
    });
  }
  return weather;
}

export function loadWeatherModel(): Promise<LoadedModel> {
  return loadModel(join(REPO_MODELS_DIR, MODEL, '1'));
}

/** One stream's events: its rows (feature order) and event times. */
export interface StreamPlan {
  readonly stream: string;
  readonly rows: number[][];
  readonly ts: number[];
}

/** `count` streams of `perStream` daily events each, every stream from its own place in the data. */
export function planStreams(prefix: string, count: number, perStream: number): StreamPlan[] {
  const data = weatherRows();
  return Array.from({ length: count }, (_, s) => {
    const start = (s * 37) % data.length;
    const rows = Array.from({ length: perStream }, (_, k) => data[(start + k) % data.length]!);
    return { stream: `${prefix}-${s}`, rows, ts: rows.map((_, k) => T0 + (start + k) * DAY) };
  });
}

/** The event JSON of a stream's k-th event, values by feature name. */
export function eventJson(plan: StreamPlan, k: number): string {
  const row = plan.rows[k]!;
  return JSON.stringify({ stream: plan.stream, ts: plan.ts[k], values: Object.fromEntries(FEATURES.map((f, j) => [f, row[j]])) });
}

/** Round k carries the k-th event of every stream: each stream's events spread over the whole feed. */
export function interleaved(plans: readonly StreamPlan[]): Message[] {
  const perStream = Math.max(...plans.map((p) => p.rows.length));
  const out: Message[] = [];
  for (let k = 0; k < perStream; k++) {
    for (const p of plans) if (k < p.rows.length) out.push({ key: p.stream, value: eventJson(p, k) });
  }
  return out;
}

/** What `streamcell predict --state` prints for one sequence: every forecast, and h and c after the last step. */
export interface Offline {
  readonly forecasts: number[][];
  /** h of every layer then c of every layer, as the state record lays them out. */
  readonly finalState: Float32Array;
}

export async function offlinePredict(model: LoadedModel, rows: readonly number[][]): Promise<Offline> {
  const forecasts: number[][] = [];
  let h: number[][] = [];
  let c: number[][] = [];
  const input = rows.map((r, i) => ({ line: i + 1, values: Float64Array.from(r) }));
  for await (const step of predictRows(model, input, { state: true })) {
    forecasts.push(step.forecast);
    h = step.h!;
    c = step.c ?? [];
  }
  return { forecasts, finalState: Float32Array.from([...h.flat(), ...c.flat()]) };
}

/** A forecast message's values flattened as `predict` prints them: [step1 targets..., step2 targets..., ...]. */
export function flatForecast(forecast: readonly Record<string, number>[]): number[] {
  return forecast.flatMap((step) => [step.temp_max!, step.temp_min!]);
}

/** Same float32 bits (NaN included, -0 distinct from 0). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** The result of an uninterrupted run of the same messages through one in-memory pipeline. */
export interface Reference {
  /** State key -> record bytes, for every key given. */
  readonly records: Map<string, Buffer | null>;
  /** Idempotency key (topic/partition/offset) -> forecast bytes. */
  readonly forecasts: Map<string, Buffer>;
  /** Idempotency key -> dead-letter code. */
  readonly deadLetters: Map<string, string>;
}

/**
 * Runs the events as read back from Kafka (their real partitions, offsets and
 * append times) through a BatchPipeline with an in-memory store: no crash, no
 * rebalance, batches of `batchSize` per partition. The kernel is batch-invariant,
 * so this is what any correct distributed run must end with.
 */
export async function referenceRun(
  events: readonly ReadMessage[],
  config: Partial<PipelineConfig> & Pick<PipelineConfig, 'stateKeyPrefix' | 'forecastsTopic'>,
  keys: readonly string[],
  batchSize = 250,
): Promise<Reference> {
  const { pipeline, sink, store } = await pipelineHarness(config);
  const byPartition = new Map<string, InboundMessage[]>();
  for (const m of events) {
    const k = `${m.topic}/${m.partition}`;
    const list = byPartition.get(k) ?? [];
    list.push({ ...m, headers: { ...m.headers } });
    byPartition.set(k, list);
  }
  for (const list of byPartition.values()) {
    for (let i = 0; i < list.length; i += batchSize) {
      const messages = list.slice(i, i + batchSize);
      const last = messages[messages.length - 1]!;
      await pipeline.handle({ topic: last.topic, partition: last.partition, messages, highWatermark: String(BigInt(last.offset) + 1n) }, recordingControl());
    }
  }
  const loaded = await store.load(keys);
  const forecasts = new Map<string, Buffer>();
  for (const m of sink.messages(config.forecastsTopic)) {
    const key = m.headers[IDEMPOTENCY_HEADER]!;
    expect(forecasts.has(key), `reference run published ${key} twice`).toBe(false);
    forecasts.set(key, m.value);
  }
  const deadLetters = new Map<string, string>();
  for (const r of sink.sent) {
    if (!r.topic.endsWith('.dlq')) continue;
    for (const m of r.messages) {
      const h = m.headers!;
      deadLetters.set(`${h['streamcell-source-topic']}/${h['streamcell-source-partition']}/${h['streamcell-source-offset']}`, h['streamcell-dlq-code']!);
    }
  }
  return { records: new Map(keys.map((k, i) => [k, loaded[i] ?? null])), forecasts, deadLetters };
}

/** Every key's value in Redis, in one pipeline. */
export async function readStates(redis: Redis, keys: readonly string[]): Promise<Map<string, Buffer | null>> {
  const pipe = redis.pipeline();
  for (const k of keys) pipe.getBuffer(k);
  const results = (await pipe.exec()) ?? [];
  return new Map(
    keys.map((k, i) => {
      const [err, value] = results[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      return [k, (value as Buffer | null) ?? null];
    }),
  );
}

/** Counts keys under a prefix with SCAN (Redis is shared: never KEYS). */
export async function countKeys(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}
