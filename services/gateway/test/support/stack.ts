/**
 * A real worker and a real gateway in this process, on the real Kafka and
 * Redis, in a fresh test namespace: topics `<ns>.events`, `<ns>.forecasts`,
 * `<ns>.events.dlq`, Redis keys under `<ns>:`, the repository's weather
 * model. Everything is stopped and deleted by `stop()`.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReadableStreamDefaultReader, ReadableStreamReadResult } from 'node:stream/web';
import { Kafka, logLevel } from 'kafkajs';
import { createLogger } from '@streamcell/telemetry';
import { buildWorker, loadConfig as loadWorkerConfig, type BuiltWorker } from '@streamcell/worker';
import { weatherOnlyModelsDir } from '../../../../test/support/models.ts';
import { openTestEnv, type TestEnv } from '../../../../test/support/services.ts';
import { loadConfig } from '../../src/config.ts';
import { Gateway } from '../../src/gateway.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
/** models/weather/1 alone (see test/support/models.ts): events in these tests name no model. */
export const MODELS_DIR = weatherOnlyModelsDir();
export const TOKEN = 'integration-token-0123456789';

/** A running worker and gateway. */
export interface Stack {
  readonly env: TestEnv;
  readonly eventsTopic: string;
  readonly forecastsTopic: string;
  readonly partitions: number;
  readonly gateway: Gateway;
  readonly worker: BuiltWorker;
  /** http://127.0.0.1:<port> */
  readonly baseUrl: string;
  /** fetch against the gateway with the bearer token. */
  api(path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

/** Starts the stack; resolves once the gateway is ready (its live feed joined). */
export async function startStack(options: { partitions?: number; gatewayEnv?: Record<string, string> } = {}): Promise<Stack> {
  const env = await openTestEnv();
  const partitions = options.partitions ?? 4;
  const eventsTopic = await env.createTopic('events', partitions);
  const forecastsTopic = await env.createTopic('forecasts', partitions);
  await env.createTopic('events.dlq', 1);
  const group = `${env.ns}-workers`;
  const common = {
    KAFKA_BROKERS: env.brokers.join(','),
    REDIS_URL: env.redisUrl,
    MODELS_DIR,
    FORECASTS_TOPIC: forecastsTopic,
    STATE_KEY_PREFIX: env.keyPrefix,
    CREATE_TOPICS: 'false',
  };
  const log = createLogger({ name: 'test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const worker = await buildWorker(
    loadWorkerConfig({ ...common, EVENTS_TOPICS: eventsTopic, CONSUMER_GROUP: group, METRICS_PORT: '0', METRICS_HOST: '127.0.0.1', KAFKA_SESSION_TIMEOUT_MS: '10000', KAFKA_HEARTBEAT_INTERVAL_MS: '1000' }),
    log.child({ service: 'worker' }),
  );
  let gateway: Gateway | undefined;
  const stop = async (): Promise<void> => {
    await gateway?.stop();
    await worker.worker.stop();
    worker.dispose();
    await env.admin.deleteGroups([group]).catch(() => {});
    await env.cleanup();
  };
  try {
    await worker.worker.start();
    gateway = await Gateway.create(
      loadConfig({ ...common, EVENTS_TOPIC: eventsTopic, PORT: '0', HOST: '127.0.0.1', GATEWAY_TOKEN: TOKEN, ...options.gatewayEnv }),
      log.child({ service: 'gateway' }),
    );
    await gateway.start();
  } catch (err) {
    await stop();
    throw err;
  }
  const baseUrl = `http://127.0.0.1:${gateway.port}`;
  await until(async () => (await fetch(`${baseUrl}/readyz`)).status === 200, 'the gateway to be ready (live feed joined)', 60_000);
  const g = gateway;
  return {
    env,
    eventsTopic,
    forecastsTopic,
    partitions,
    gateway: g,
    worker,
    baseUrl,
    api: (path, init = {}) => fetch(`${baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) } }),
    stop,
  };
}

/** Polls `check` until it is true; rejects with `what` after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every message on a topic up to its current end, read with a throwaway consumer group. */
export async function readTopic(env: TestEnv, topic: string): Promise<{ partition: number; key: string; value: string }[]> {
  const offsets = await env.admin.fetchTopicOffsets(topic);
  const expected = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  const out: { partition: number; key: string; value: string }[] = [];
  if (expected === 0) return out;
  const kafka = new Kafka({ clientId: `${env.ns}-reader`, brokers: env.brokers, logLevel: logLevel.NOTHING });
  const groupId = `${env.ns}-reader-${Math.random().toString(36).slice(2)}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ partition, message }) => {
        out.push({ partition, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
        return Promise.resolve();
      },
    });
    await until(() => out.length >= expected, `${expected} messages on ${topic}`);
  } finally {
    await consumer.disconnect();
    await env.admin.deleteGroups([groupId]).catch(() => {});
  }
  return out;
}

/**
 * Reads a server-sent-event stream until `enough` says so; returns the
 * events (name, id, data) in order.
 */
export async function readEvents(
  res: Response,
  enough: (events: { event: string; id: string | undefined; data: string }[]) => boolean,
  timeoutMs = 60_000,
): Promise<{ event: string; id: string | undefined; data: string }[]> {
  const events: { event: string; id: string | undefined; data: string }[] = [];
  const reader = res.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const decoder = new TextDecoder();
  let buf = '';
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    while (!enough(events)) {
      const chunk: ReadableStreamReadResult<Uint8Array> = await reader.read();
      if (chunk.done) break;
      buf += decoder.decode(chunk.value, { stream: true });
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let event = 'message';
        let id: string | undefined;
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('id: ')) id = line.slice(4);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length > 0) events.push({ event, id, data: data.join('\n') });
      }
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
  return events;
}

/** Days of Seattle weather (vega-datasets) as events of one stream, one per day. */
export async function seattleWeather(stream: string, days: number, from = 0): Promise<Record<string, unknown>[]> {
  // The package exports only its JS entry (in build/); the CSV files sit beside that folder.
  const csvPath = join(dirname(createRequire(import.meta.url).resolve('vega-datasets')), '..', 'data', 'seattle-weather.csv');
  const [header, ...rows] = (await readFile(csvPath, 'utf8')).trim().split('\n');
  const cols = header!.split(',');
  const at = (name: string): number => cols.indexOf(name);
  return rows.slice(from, from + days).map((row) => {
    const f = row.split(',');
    return {
      stream,
      ts: f[at('date')]!,
      values: { precipitation: Number(f[at('precipitation')]), temp_max: Number(f[at('temp_max')]), temp_min: Number(f[at('temp_min')]), wind: Number(f[at('wind')]) },
    };
  });
}
