/**
 * Fuzz-ish checks of the HTTP surface, seeded so a failure replays:
 * - random requests (bytes, JSON of any shape, mutated events, odd headers
 *   and URLs) never get a 5xx, and every refusal carries a code;
 * - on random events the gateway refuses exactly what the worker's own
 *   pipeline dead-letters, with the same code, and accepts what it steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ERROR_CODES, DEAD_LETTER_HEADERS } from '@streamcell/protocol';
import { seededRandom, type Random } from '@streamcell/rnn';
import { MemoryStateStore } from '@streamcell/state';
import { isPacked, unpackMessages, type BatchControl, type InboundBatch, type OutboundRecords, type Sink, type SinkRecords } from '@streamcell/streams';
import { createLogger, createWorkerMetrics } from '@streamcell/telemetry';
import { BatchPipeline, ModelRegistry, loadConfig as loadWorkerConfig } from '@streamcell/worker';
import { MODELS_DIR, appHarness, weatherEvent } from './helpers.ts';

const TOKEN = 'fuzz-token-0123456789abcdef';
const FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind'];

function pick<T>(rand: Random, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function randomString(rand: Random, max: number): string {
  const alphabets = ['abc-_.:/ ', '\u0000\u0001\u001f\u007f\u0085', 'éß漢字🙂', '"\\{}[],:', 'temp_maxwindprecipitation'];
  const alphabet = [...pick(rand, alphabets)];
  let s = '';
  const n = Math.floor(rand() * max);
  for (let i = 0; i < n; i++) s += pick(rand, alphabet);
  return s;
}

function randomNumber(rand: Random): number {
  return pick(rand, [0, -1, 1e308, -1e308, 5e-324, 12.5, Number.MAX_SAFE_INTEGER, rand() * 100 - 50, Math.floor(rand() * 1e6)]);
}

function randomJson(rand: Random, depth: number): unknown {
  const kind = depth <= 0 ? Math.floor(rand() * 4) : Math.floor(rand() * 6);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return randomNumber(rand);
    case 3:
      return randomString(rand, 12);
    case 4:
      return Array.from({ length: Math.floor(rand() * 5) }, () => randomJson(rand, depth - 1));
    default: {
      const o: Record<string, unknown> = {};
      const keys = ['stream', 'ts', 'values', 'model', 'reset', 'end', '__proto__', 'constructor', ...FEATURES];
      for (let i = Math.floor(rand() * 6); i > 0; i--) o[rand() < 0.7 ? pick(rand, keys) : randomString(rand, 6)] = randomJson(rand, depth - 1);
      return o;
    }
  }
}

/** A weather event with one or two things changed at random. */
function mutatedEvent(rand: Random, i: number): Record<string, unknown> {
  const e: Record<string, unknown> = weatherEvent(`fuzz-${i}`, i);
  for (let m = 1 + Math.floor(rand() * 2); m > 0; m--) {
    const field = pick(rand, ['stream', 'ts', 'values', 'model', 'reset', 'end', 'value']);
    const values = e.values as Record<string, unknown>;
    switch (field) {
      case 'value':
        if (typeof values === 'object' && values !== null && !Array.isArray(values)) {
          const name = rand() < 0.8 ? pick(rand, FEATURES) : randomString(rand, 8);
          if (rand() < 0.3) delete values[name];
          else values[name] = rand() < 0.5 ? randomNumber(rand) : randomJson(rand, 1);
        }
        break;
      case 'values':
        e.values = rand() < 0.5 ? Array.from({ length: Math.floor(rand() * 6) }, () => (rand() < 0.85 ? randomNumber(rand) : randomJson(rand, 0))) : randomJson(rand, 2);
        break;
      case 'model':
        e.model = pick(rand, ['weather', 'nope', '', 42, null]);
        break;
      case 'stream':
        e.stream = rand() < 0.6 ? randomString(rand, 300) : randomJson(rand, 1);
        break;
      case 'ts':
        e.ts = pick(rand, [-1, 0, 1e20, '2024-01-01', '2024-13-45', 'later', null, 1.5]);
        break;
      default:
        e[field] = randomJson(rand, 0);
    }
  }
  return e;
}

describe('random requests', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    ({ app } = await appHarness({ GATEWAY_TOKEN: TOKEN, BODY_LIMIT_BYTES: '65536', MAX_BATCH_EVENTS: '50' }));
  });
  afterAll(async () => {
    await app.close();
  });

  it('never answer with a 5xx, and every refusal carries a known code', async () => {
    const rand = seededRandom(20261127);
    const paths = ['/v1/events', '/v1/models', '/v1/streams', '/v1/streams/%ZZ/forecast', '/v1/streams/a%00b/forecast', '/v1/streams/ok/forecast', '/v1/streams?limit=-1', '/', '/metrics', '/nope', '/v1/streams/%F0%9F%99%82/forecast', '/v1/streams//forecast'];
    const codes = new Set<string>(ERROR_CODES);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 600; i++) {
      let payload: string | Buffer;
      const shape = Math.floor(rand() * 4);
      if (shape === 0) payload = Buffer.from(Array.from({ length: Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)));
      else if (shape === 1) payload = JSON.stringify(randomJson(rand, 4));
      else if (shape === 2) payload = JSON.stringify(Array.from({ length: 1 + Math.floor(rand() * 60) }, (_, k) => mutatedEvent(rand, k)));
      else payload = JSON.stringify(mutatedEvent(rand, i)).slice(0, rand() < 0.2 ? Math.floor(rand() * 80) : undefined);
      const headers: Record<string, string> = {};
      if (rand() < 0.8) headers.authorization = rand() < 0.85 ? `Bearer ${TOKEN}` : pick(rand, ['Bearer', `bearer ${TOKEN}`, `Bearer ${TOKEN}\u00e9`, 'Bearer  x', '']);
      if (rand() < 0.7) headers['content-type'] = pick(rand, ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', '*/*']);
      const method = rand() < 0.7 ? 'POST' : pick(rand, ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const);
      const url = method === 'POST' && rand() < 0.9 ? '/v1/events' : pick(rand, paths);
      const res = await app.inject(method === 'GET' || method === 'HEAD' ? { method, url, headers } : { method, url, payload, headers });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      expect(res.statusCode, `request ${i}: ${method} ${url}`).toBeLessThan(500);
      if (res.statusCode >= 400 && method !== 'HEAD') {
        const body = res.json<{ code: string; message: string }>();
        expect(codes.has(body.code), `request ${i}: code ${body.code}`).toBe(true);
        expect(typeof body.message).toBe('string');
      }
    }
    // The generator reaches the interesting answers, not only one kind of refusal.
    for (const status of [202, 207, 400, 401, 404, 413, 422]) expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(0);
  });
});

/** A sink that keeps what it was given (the worker's side; its packed forecasts unpacked). */
class KeepingSink implements Sink {
  readonly sent: OutboundRecords[] = [];
  connect(): Promise<void> {
    return Promise.resolve();
  }
  send(records: readonly SinkRecords[]): Promise<void> {
    for (const r of records) this.sent.push(isPacked(r) ? { topic: r.topic, messages: unpackMessages(r) } : r);
    return Promise.resolve();
  }
  disconnect(): Promise<void> {
    return Promise.resolve();
  }
}

describe('gateway and worker agree', () => {
  it('on random events: the gateway refuses what the worker dead-letters, with the same code, and accepts what it steps', async () => {
    const rand = seededRandom(6);
    const events = Array.from({ length: 400 }, (_, i) => mutatedEvent(rand, i));
    const { app } = await appHarness({ MAX_BATCH_EVENTS: '1000', BODY_LIMIT_BYTES: '4194304' });
    const res = await app.inject({ method: 'POST', url: '/v1/events', payload: JSON.stringify(events) });
    await app.close();
    const refused = new Map(res.json<{ refused: { index: number; code: string }[] }>().refused.map((r) => [r.index, r.code]));

    // The worker sees the bytes the gateway would produce, keyed by the stream field when there is one.
    const log = createLogger({ name: 'test', level: 'silent' });
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    const registry = new ModelRegistry({ dir: MODELS_DIR, maxBatch: 64, log, metrics });
    await registry.scan();
    const sink = new KeepingSink();
    const pipeline = new BatchPipeline({ store: new MemoryStateStore(), sink, models: () => registry.snapshot(), metrics, log, config: loadWorkerConfig({ MODELS_DIR }) });
    const batch: InboundBatch = {
      topic: 'events',
      partition: 0,
      highWatermark: String(events.length),
      messages: events.map((e, i) => ({
        topic: 'events',
        partition: 0,
        offset: String(i),
        key: typeof e.stream === 'string' ? Buffer.from(e.stream) : null,
        value: Buffer.from(JSON.stringify(e)),
        timestamp: 1_700_000_000_000,
        headers: {},
      })),
    };
    const control: BatchControl = { heartbeat: () => Promise.resolve(), isRunning: () => true, isStale: () => false, commit: () => Promise.resolve() };
    await pipeline.handle(batch, control);
    const deadLetters = new Map<number, string>();
    const stepped = new Set<number>();
    for (const r of sink.sent) {
      for (const m of r.messages) {
        if (r.topic === 'events.dlq') deadLetters.set(Number(m.headers![DEAD_LETTER_HEADERS.offset]), m.headers![DEAD_LETTER_HEADERS.code]!);
        else stepped.add(Number((JSON.parse(String(m.value)) as { source: { offset: string } }).source.offset));
      }
    }
    expect(refused.size + stepped.size).toBe(events.length);
    expect(refused).toEqual(deadLetters);
    // Both kinds are well represented, so the agreement says something.
    expect(refused.size).toBeGreaterThan(100);
    expect(stepped.size).toBeGreaterThan(50);
  });
});
