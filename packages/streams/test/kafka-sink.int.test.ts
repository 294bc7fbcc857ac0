/**
 * KafkaSink and ensureTopics on the real broker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStreamcellError, type StreamcellError } from '@streamcell/protocol';
import { openTestEnv, type TestEnv } from '../../../test/support/services.ts';
import { KafkaSink, KafkaSource, PackedMessageWriter, SendWithdrawnError, ensureTopics, partitionForKey, type InboundMessage, type StreamsLogger } from '../src/index.ts';
import { waitFor } from './source-contract.ts';

let env: TestEnv;
const extraTopics: string[] = [];

beforeAll(async () => {
  env = await openTestEnv();
});

afterAll(async () => {
  if (extraTopics.length > 0) await env?.admin.deleteTopics({ topics: extraTopics }).catch(() => {});
  await env?.admin.deleteGroups([`${env.ns}-read`]).catch(() => {});
  await env?.cleanup();
});

/** Everything currently in `topics`, read by a throwaway group. */
async function readAll(topics: readonly string[], expected: number): Promise<InboundMessage[]> {
  const got: InboundMessage[] = [];
  const source = new KafkaSource({ brokers: env.brokers, clientId: `${env.ns}-reader`, groupId: `${env.ns}-read`, topics, fromBeginning: true, maxWaitTimeInMs: 100 });
  await source.start((batch) => {
    got.push(...batch.messages);
    return Promise.resolve();
  });
  try {
    await waitFor(() => got.length >= expected, `${expected} messages`);
  } finally {
    await source.stop();
  }
  return got;
}

describe('KafkaSink', () => {
  it('sends to two topics in one call, keyed by the Java murmur2 partitioner, with headers and null values', async () => {
    const forecasts = await env.createTopic('forecasts', 6);
    const dead = await env.createTopic('dead', 1);
    const sink = new KafkaSink({ brokers: env.brokers, clientId: `${env.ns}-sink` });
    await sink.connect();
    try {
      await sink.send([
        { topic: forecasts, messages: Array.from({ length: 30 }, (_, i) => ({ key: `sensor-${i}`, value: JSON.stringify({ i }), headers: { 'x-source': `in:0:${i}` } })) },
        { topic: dead, messages: [{ key: Buffer.from('bad-stream'), value: Buffer.from([0xff, 0x00]) }, { key: null, value: null }] },
        { topic: dead, messages: [] },
      ]);
      await sink.send([]);
    } finally {
      await sink.disconnect();
    }
    const got = await readAll([forecasts, dead], 32);
    const fc = got.filter((m) => m.topic === forecasts);
    expect(fc).toHaveLength(30);
    for (const m of fc) {
      const key = m.key!.toString();
      expect(m.partition, key).toBe(partitionForKey(key, 6));
      expect(m.headers).toEqual({ 'x-source': `in:0:${(JSON.parse(m.value!.toString()) as { i: number }).i}` });
    }
    const dl = got.filter((m) => m.topic === dead).sort((a, b) => Number(a.offset) - Number(b.offset));
    expect(dl.map((m) => [m.key?.toString() ?? null, m.value])).toEqual([
      ['bad-stream', Buffer.from([0xff, 0x00])],
      [null, null],
    ]);
  });

  it('sends packed messages as the records they pack, on the partitions of their keys, cut across produce requests, between messages as objects', async () => {
    const topic = await env.createTopic('packed', 6);
    // Little room per request: the packed messages are cut into several calls.
    const sink = new KafkaSink({ brokers: env.brokers, clientId: `${env.ns}-packed`, maxBatchBytes: 4_000 });
    await sink.connect();
    const writer = new PackedMessageWriter(200);
    const header = PackedMessageWriter.header('streamcell-idempotency-key', 'events/3/');
    for (let i = 0; i < 200; i++) {
      const key = i % 7 === 0 ? `capteur-é-${i}` : `sensor-${i % 40}`;
      const value = Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(i % 3 === 0 ? 10 : 100) }));
      const at = writer.beginValue(key, value.length);
      value.copy(writer.buffer, at);
      writer.endMessage(at + value.length, i % 5 === 0 ? undefined : header, String(1000 + i));
    }
    try {
      await sink.send([{ topic, messages: [{ key: 'first', value: 'object before' }] }, { topic, ...writer.finish() }, { topic, messages: [{ key: 'first', value: 'object after' }] }]);
    } finally {
      await sink.disconnect();
    }
    expect(sink.requestsSent).toBeGreaterThan(3);
    const got = await readAll([topic], 202);
    expect(got).toHaveLength(202);
    const packed = got.filter((m) => m.key?.toString() !== 'first');
    for (const m of packed) {
      const key = m.key!.toString('utf8');
      const { i } = JSON.parse(m.value!.toString()) as { i: number };
      expect(key).toBe(i % 7 === 0 ? `capteur-é-${i}` : `sensor-${i % 40}`);
      expect(m.partition, key).toBe(partitionForKey(key, 6));
      expect(m.headers).toEqual(i % 5 === 0 ? {} : { 'streamcell-idempotency-key': `events/3/${1000 + i}` });
    }
    // Each partition in the order written.
    for (let p = 0; p < 6; p++) {
      const order = packed.filter((m) => m.partition === p).sort((a, b) => Number(a.offset) - Number(b.offset)).map((m) => (JSON.parse(m.value!.toString()) as { i: number }).i);
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    const firsts = got.filter((m) => m.key?.toString() === 'first').sort((a, b) => Number(a.offset) - Number(b.offset));
    expect(firsts.map((m) => m.value!.toString())).toEqual(['object before', 'object after']);
  });

  it('delivers a send far above the broker message limit in order, and reports a single oversized message as too_large', async () => {
    const topic = await env.createTopic('big', 1);
    const sink = new KafkaSink({ brokers: env.brokers, clientId: `${env.ns}-big` });
    await sink.connect();
    const n = 3_000;
    try {
      // About 3 MB for one partition: one record batch of that size is refused by a broker at its 1 MiB default.
      await sink.send([{ topic, messages: Array.from({ length: n }, (_, i) => ({ key: 'one-stream', value: `${String(i).padStart(6, '0')}:${'x'.repeat(1_000)}` })) }]);
      const tooBig = await sink.send([{ topic, messages: [{ key: 'k', value: Buffer.alloc(2 * 1024 * 1024) }] }]).catch((e: unknown) => e);
      expect(isStreamcellError(tooBig, 'too_large')).toBe(true);
      expect((tooBig as StreamcellError).retriable).toBe(false);
    } finally {
      await sink.disconnect();
    }
    const got = await readAll([topic], n);
    expect(got.map((m) => Number(m.value!.toString().slice(0, 6)))).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('merges concurrent sends into few produce requests, keeps each partition in order, and fails only the caller whose records fail', async () => {
    const topic = await env.createTopic('merged', 3);
    const sink = new KafkaSink({ brokers: env.brokers, clientId: `${env.ns}-merge` });
    await sink.connect();
    const callers = 20;
    const batch = (c: number): { topic: string; messages: { key: string; value: string }[] }[] => [
      { topic, messages: Array.from({ length: 10 }, (_, i) => ({ key: `stream-${i % 3}`, value: `${c}:${i}` })) },
    ];
    let merged: number;
    try {
      // 20 sends issued in one turn of the event loop go as one request.
      const before = sink.requestsSent;
      await Promise.all(Array.from({ length: callers }, (_, c) => sink.send(batch(c))));
      merged = sink.requestsSent - before;
      // A bad send merged with good ones fails alone; the good ones land.
      const good = Array.from({ length: callers }, (_, c) => sink.send(batch(callers + c)));
      const bad = sink.send([{ topic, messages: [{ key: 'k', value: Buffer.alloc(2 * 1024 * 1024) }] }]).catch((e: unknown) => e);
      await Promise.all(good);
      expect(isStreamcellError(await bad, 'too_large')).toBe(true);
    } finally {
      await sink.disconnect();
    }
    expect(merged).toBe(1);
    const got = await readAll([topic], 2 * callers * 10);
    expect(got.length).toBeGreaterThanOrEqual(2 * callers * 10);
    for (const key of ['stream-0', 'stream-1', 'stream-2']) {
      const values = got.filter((m) => m.key!.toString() === key).sort((a, b) => Number(a.offset) - Number(b.offset)).map((m) => m.value!.toString());
      const expected = Array.from({ length: 2 * callers }, (_, c) => Array.from({ length: 10 }, (_, i) => i).filter((i) => `stream-${i % 3}` === key).map((i) => `${c}:${i}`)).flat();
      // The failed merged request may have written some partitions before the
      // good sends went again alone: duplicates are allowed, but every message
      // is there and their first copies are in order.
      expect([...new Set(values)]).toEqual(expected);
    }
  });

  it('withdraws a send aborted while it waits behind another (nothing of it written), and ignores an abort once it went out', async () => {
    const topic = await env.createTopic('withdrawn', 1);
    const sink = new KafkaSink({ brokers: env.brokers, clientId: `${env.ns}-withdraw` });
    await sink.connect();
    try {
      const records = (value: string): { topic: string; messages: { key: string; value: string }[] }[] => [{ topic, messages: [{ key: 'k', value }] }];
      // Neither has gone out within this turn of the event loop: the second is withdrawn alone.
      const first = sink.send(records('first'));
      const waiting = new AbortController();
      const second = sink.send(records('withdrawn'), { signal: waiting.signal }).catch((e: unknown) => e);
      waiting.abort();
      expect(await second).toBeInstanceOf(SendWithdrawnError);
      await first;
      // Already aborted: refused before queueing.
      await expect(sink.send(records('never'), { signal: waiting.signal })).rejects.toBeInstanceOf(SendWithdrawnError);
      // Aborted after it went out: no effect, it is written.
      const late = new AbortController();
      const third = sink.send(records('third'), { signal: late.signal });
      await new Promise((r) => setImmediate(r));
      late.abort();
      await third;
    } finally {
      await sink.disconnect();
    }
    // Had the withdrawn send been written, it would be the second message.
    const got = await readAll([topic], 2);
    expect(got.map((m) => m.value!.toString())).toEqual(['first', 'third']);
  });

  it('reports an unreachable broker, a missing topic and a send before connect as StreamcellErrors', async () => {
    const down = new KafkaSink({ brokers: ['127.0.0.1:1'], clientId: 'down', retry: { retries: 1, initialRetryTime: 50 } });
    const e1 = await down.connect().catch((e: unknown) => e);
    expect(isStreamcellError(e1, 'kafka_unavailable')).toBe(true);
    expect((e1 as StreamcellError).retriable).toBe(true);
    expect((e1 as StreamcellError).cause).toBeInstanceOf(Error);

    const sink = new KafkaSink({ brokers: env.brokers, clientId: `${env.ns}-sink2`, sendRetry: { retries: 1, initialRetryTime: 50 } });
    await expect(sink.send([{ topic: 'x', messages: [{ key: 'k', value: 'v' }] }])).rejects.toThrow(/before connect/);
    await sink.connect();
    try {
      const e2 = await sink.send([{ topic: env.topic('no-such-topic'), messages: [{ key: 'k', value: 'v' }] }]).catch((e: unknown) => e);
      expect(isStreamcellError(e2, 'kafka_unavailable')).toBe(true);
      expect((e2 as Error).message).toContain('no-such-topic');
    } finally {
      await sink.disconnect();
    }
  });
});

describe('ensureTopics', () => {
  it('creates missing topics, leaves existing ones as they are, and is idempotent', async () => {
    const existing = await env.createTopic('ensure-existing', 3);
    const fresh = env.topic('ensure-fresh');
    const fresh2 = env.topic('ensure-fresh-2');
    extraTopics.push(fresh, fresh2);
    const warnings: Record<string, unknown>[] = [];
    const logger: StreamsLogger = { debug() {}, info() {}, warn: (f) => warnings.push(f), error() {} };

    const first = await ensureTopics(
      env.admin,
      [
        { topic: existing, partitions: 5 },
        { topic: fresh, partitions: 4, config: { 'retention.ms': '3600000' } },
      ],
      { logger },
    );
    expect(first).toEqual({ created: [fresh], existing: [{ topic: existing, partitions: 3 }] });
    expect(warnings).toEqual([{ topic: existing, partitions: 3, wanted: 5 }]);

    // Through a broker list this time: the helper opens and closes its own admin client.
    const second = await ensureTopics(env.brokers, [
      { topic: fresh, partitions: 4 },
      { topic: fresh2, partitions: 2 },
    ]);
    expect(second).toEqual({ created: [fresh2], existing: [{ topic: fresh, partitions: 4 }] });

    const third = await ensureTopics(env.brokers, [{ topic: fresh2, partitions: 2 }]);
    expect(third).toEqual({ created: [], existing: [{ topic: fresh2, partitions: 2 }] });

    const meta = await env.admin.fetchTopicMetadata({ topics: [existing, fresh, fresh2] });
    const counts = Object.fromEntries(meta.topics.map((t) => [t.name, t.partitions.length]));
    expect(counts).toEqual({ [existing]: 3, [fresh]: 4, [fresh2]: 2 });
    // Replication came from the broker's default (1 on the one-node test broker).
    expect(meta.topics.every((t) => t.partitions.every((p) => p.replicas.length === 1))).toBe(true);
    const [config] = (await env.admin.describeConfigs({ resources: [{ type: 2, name: fresh, configNames: ['retention.ms'] }], includeSynonyms: false })).resources;
    expect(config?.configEntries.find((c) => c.configName === 'retention.ms')?.configValue).toBe('3600000');
  });

  it('fails fast and clearly when the broker is unreachable, and on invalid specs', async () => {
    const t0 = Date.now();
    const err = await ensureTopics(['127.0.0.1:1'], [{ topic: 'x', partitions: 1 }]).catch((e: unknown) => e);
    expect(isStreamcellError(err, 'kafka_unavailable')).toBe(true);
    expect((err as Error).message).toMatch(/cannot reach Kafka.*127\.0\.0\.1:1/);
    expect(Date.now() - t0).toBeLessThan(15_000);

    await expect(ensureTopics(env.admin, [{ topic: 'bad name', partitions: 1 }])).rejects.toThrow(/invalid Kafka topic name/);
    await expect(ensureTopics(env.admin, [{ topic: 'ok', partitions: 0 }])).rejects.toThrow(/positive integer/);
    const tooMany = await ensureTopics(env.admin, [{ topic: env.topic('rf'), partitions: 1, replicationFactor: 3 }]).catch((e: unknown) => e);
    expect(isStreamcellError(tooMany, 'config_invalid')).toBe(true);
    expect((tooMany as Error).message).toMatch(/replication/i);
  });
});
