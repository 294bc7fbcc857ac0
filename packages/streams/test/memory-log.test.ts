import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isStreamcellError } from '@streamcell/protocol';
import { MemoryLog, partitionForKey, type InboundBatch, type StreamsLogger } from '../src/index.ts';
import { sourceContract, waitFor, type LogFixture } from './source-contract.ts';

function memoryFixture(): LogFixture {
  const log = new MemoryLog();
  return {
    createTopic: (name, partitions) => {
      log.createTopic(name, partitions);
      return Promise.resolve(name);
    },
    produce: (topic, messages) => {
      log.append(topic, messages);
      return Promise.resolve();
    },
    source: (groupId, topics, options = {}) =>
      log.source({
        groupId,
        topics,
        fromBeginning: true,
        retryBackoffMs: 10,
        ...(options.smallBatches === true ? { maxBatchSize: 3 } : {}),
        ...(options.concurrency === undefined ? {} : { partitionsConsumedConcurrently: options.concurrency }),
      }),
    committed: (groupId, topic) => {
      const c = log.committed(groupId)[topic] ?? {};
      return Promise.resolve(new Map(Object.entries(c).map(([p, o]) => [Number(p), o])));
    },
    groupId: (name) => `${name}-${randomUUID()}`,
  };
}

describe('MemoryLog source contract', () => {
  sourceContract(memoryFixture);
});

describe('MemoryLog', () => {
  it('places keyed messages with Kafka murmur2, unkeyed ones round-robin, pinned ones where asked', () => {
    const log = new MemoryLog({ topics: [{ topic: 'events', partitions: 5 }] });
    const placed = log.append('events', [{ key: 'sensor-1', value: 'a' }, { key: Buffer.from('sensor-2'), value: 'b' }, { key: null, value: 'c' }, { key: null, value: 'd' }, { key: 'x', value: 'e', partition: 4 }]);
    expect(placed).toEqual([
      { partition: partitionForKey('sensor-1', 5), offset: '0' },
      { partition: partitionForKey('sensor-2', 5), offset: partitionForKey('sensor-2', 5) === partitionForKey('sensor-1', 5) ? '1' : '0' },
      { partition: 0, offset: expect.any(String) as string },
      { partition: 1, offset: expect.any(String) as string },
      { partition: 4, offset: expect.any(String) as string },
    ]);
    const all = log.read('events');
    expect(all).toHaveLength(5);
    // read() lists partition by partition, in offset order.
    const order = all.map((m) => [m.partition, Number(m.offset)]);
    expect(order).toEqual([...order].sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!));
    expect(all.find((m) => m.value?.toString() === 'a')?.key?.toString()).toBe('sensor-1');
    expect(() => log.append('events', [{ key: null, value: 'z', partition: 5 }])).toThrow(/no partition 5/);
  });

  it('refuses unknown topics unless auto-creation is on, and keeps topic shapes fixed', () => {
    const strict = new MemoryLog();
    expect(() => strict.append('nope', [{ key: 'k', value: 'v' }])).toThrow(/does not exist/);
    const auto = new MemoryLog({ autoCreatePartitions: 3 });
    auto.append('made', [{ key: 'k', value: 'v' }]);
    expect(auto.partitionCount('made')).toBe(3);
    expect(() => auto.createTopic('made', 4)).toThrow(/exists with 3 partitions/);
    expect(auto.ensureTopics([{ topic: 'made', partitions: 4 }, { topic: 'fresh', partitions: 2 }])).toEqual({ created: ['fresh'], existing: [{ topic: 'made', partitions: 3 }] });
    expect(auto.topics()).toEqual(['fresh', 'made']);
  });

  it('bounds batches by maxBatchSize and keeps offsets contiguous per partition', async () => {
    const log = new MemoryLog({ topics: [{ topic: 't', partitions: 2 }] });
    log.append('t', Array.from({ length: 23 }, (_, i) => ({ key: null, value: String(i), partition: 0 })));
    log.append('t', Array.from({ length: 4 }, (_, i) => ({ key: null, value: String(i), partition: 1 })));
    const batches: InboundBatch[] = [];
    const source = log.source({ groupId: 'g', topics: ['t'], fromBeginning: true, maxBatchSize: 5 });
    await source.start(async (b, c) => {
      batches.push(b);
      await c.commit(String(Number(b.messages.at(-1)!.offset) + 1));
    });
    await waitFor(() => batches.reduce((n, b) => n + b.messages.length, 0) === 27, 'all 27');
    await source.stop();
    expect(Math.max(...batches.map((b) => b.messages.length))).toBe(5);
    const p0 = batches.filter((b) => b.partition === 0).map((b) => b.messages.map((m) => Number(m.offset)));
    expect(p0.map((b) => b.length)).toEqual([5, 5, 5, 5, 3]);
    expect(p0.flat()).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(log.committed('g')).toEqual({ t: { 0: '23', 1: '4' } });
  });

  it('starts at the end of the log without fromBeginning, and delivers what is appended while running', async () => {
    const log = new MemoryLog({ topics: [{ topic: 't', partitions: 1 }] });
    log.append('t', [{ key: 'k', value: 'old' }]);
    const got: string[] = [];
    const source = log.source({ groupId: 'g', topics: ['t'] });
    await source.start(async (b, c) => {
      got.push(...b.messages.map((m) => m.value!.toString()));
      await c.commit(String(Number(b.messages.at(-1)!.offset) + 1));
    });
    await log.sink().connect();
    log.append('t', [{ key: 'k', value: 'new' }]);
    await waitFor(() => got.length === 1, 'the new message');
    await source.stop();
    expect(got).toEqual(['new']);
  });

  it('redelivers a failing partition after a growing backoff without holding up the others, and logs each failure', async () => {
    const log = new MemoryLog({ topics: [{ topic: 't', partitions: 2 }] });
    log.append('t', [
      { key: null, value: 'bad', partition: 0 },
      { key: null, value: 'good', partition: 1 },
    ]);
    const errors: Record<string, unknown>[] = [];
    const logger: StreamsLogger = { debug() {}, info() {}, warn() {}, error: (fields) => errors.push(fields) };
    const attempts: number[] = [];
    let good = 0;
    const source = log.source({ groupId: 'g', topics: ['t'], fromBeginning: true, retryBackoffMs: 20, maxRetryBackoffMs: 80, logger });
    await source.start(async (b, c) => {
      if (b.partition === 1) good += 1;
      else {
        attempts.push(Date.now());
        if (attempts.length < 5) throw new Error('redis down');
      }
      await c.commit(String(Number(b.messages.at(-1)!.offset) + 1));
    });
    await waitFor(() => attempts.length === 5, 'five attempts');
    await source.stop();
    expect(good).toBe(1);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    // 20, 40, 80, 80 ms: doubling, capped (timers may fire a little late, never early).
    expect(gaps[0]).toBeGreaterThanOrEqual(19);
    expect(gaps[1]).toBeGreaterThanOrEqual(39);
    expect(gaps[2]).toBeGreaterThanOrEqual(79);
    expect(gaps[3]).toBeGreaterThanOrEqual(79);
    expect(errors).toHaveLength(4);
    expect(errors[0]).toMatchObject({ topic: 't', partition: 0, committed: '0' });
    expect(log.committed('g')).toEqual({ t: { 0: '1', 1: '1' } });
  });

  it('rejects commits outside the batch, a second member of a group, and a second start', async () => {
    const log = new MemoryLog({ topics: [{ topic: 't', partitions: 1 }] });
    log.append('t', [{ key: 'k', value: '0' }, { key: 'k', value: '1' }]);
    const outcomes: string[] = [];
    const source = log.source({ groupId: 'g', topics: ['t'], fromBeginning: true });
    await source.start(async (_b, c) => {
      for (const offset of ['3', '-1', '1.5', '2']) {
        await c.commit(offset).then(
          () => outcomes.push(`${offset} ok`),
          (e: unknown) => outcomes.push(`${offset} ${isStreamcellError(e, 'internal') ? 'refused' : 'other'}`),
        );
      }
    });
    await waitFor(() => outcomes.length === 4, 'four commits');
    await expect(source.start(async () => {})).rejects.toThrow(/starts once/);
    await expect(log.source({ groupId: 'g', topics: ['t'] }).start(async () => {})).rejects.toThrow(/already has a running member/);
    await source.stop();
    expect(outcomes).toEqual(['3 refused', '-1 refused', '1.5 refused', '2 ok']);
    // Once the member left, the group can be joined again.
    const again = log.source({ groupId: 'g', topics: ['t'] });
    await again.start(async () => {});
    await again.stop();
  });

  it('subscribes by pattern to the topics existing at start, and refuses a missing named topic', async () => {
    const log = new MemoryLog({ topics: [{ topic: 'in.a', partitions: 1 }, { topic: 'in.b', partitions: 2 }, { topic: 'out', partitions: 1 }] });
    const source = log.source({ groupId: 'g', topics: [/^in\./] });
    await source.start(async () => {});
    expect(source.assignments()).toEqual(new Map([['in.a', [0]], ['in.b', [0, 1]]]));
    await source.stop();
    await expect(log.source({ groupId: 'h', topics: ['missing'] }).start(async () => {})).rejects.toThrow(/does not exist/);
  });

  it('reports lag per partition from the committed offset', async () => {
    const log = new MemoryLog({ topics: [{ topic: 't', partitions: 2 }] });
    log.append('t', Array.from({ length: 6 }, (_, i) => ({ key: null, value: String(i), partition: i % 2 })));
    let handled = 0;
    const source = log.source({ groupId: 'g', topics: ['t'], fromBeginning: true, maxBatchSize: 1 });
    await source.start(async (b, c) => {
      // Commits only partition 0's messages: partition 1 keeps all of its lag.
      if (b.partition === 0) await c.commit(String(Number(b.messages[0]!.offset) + 1));
      handled += 1;
    });
    await waitFor(() => handled === 6, 'six batches');
    expect(source.lag?.()).toEqual([
      { topic: 't', partition: 0, highWatermark: '3', committed: '3', lag: 0 },
      { topic: 't', partition: 1, highWatermark: '3', committed: '0', lag: 3 },
    ]);
    await source.stop();
    expect(source.lag?.()).toEqual([]);
  });

  it('sink sends to several topics at once, all or nothing, and only while connected', async () => {
    const log = new MemoryLog({ topics: [{ topic: 'forecasts', partitions: 2 }, { topic: 'dead', partitions: 1 }] });
    const sink = log.sink();
    await expect(sink.send([{ topic: 'forecasts', messages: [{ key: 'k', value: 'v' }] }])).rejects.toThrow(/before connect/);
    await sink.connect();
    await sink.send([
      { topic: 'forecasts', messages: [{ key: 's1', value: 'f1', headers: { h: 'x' } }] },
      { topic: 'dead', messages: [{ key: null, value: 'd1' }] },
    ]);
    await expect(
      sink.send([
        { topic: 'forecasts', messages: [{ key: 's1', value: 'f2' }] },
        { topic: 'missing', messages: [{ key: null, value: 'x' }] },
      ]),
    ).rejects.toThrow(/does not exist/);
    expect(log.read('forecasts').map((m) => [m.value!.toString(), m.headers])).toEqual([['f1', { h: 'x' }]]);
    expect(log.read('dead').map((m) => m.value!.toString())).toEqual(['d1']);
    await sink.disconnect();
    await expect(sink.send([{ topic: 'dead', messages: [{ key: null, value: 'late' }] }])).rejects.toThrow(/after disconnect/);
  });
});
