/**
 * KafkaSource on the real broker: the shared source contract, then what only
 * Kafka has (crashes and restarts of the kafkajs consumer, rebalances between
 * two members, unreachable brokers).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamcellError, isStreamcellError } from '@streamcell/protocol';
import { openTestEnv, type TestEnv } from '../../../test/support/services.ts';
import { KafkaSink, KafkaSource, partitionForKey, type InboundBatch, type KafkaSourceOptions } from '../src/index.ts';
import { sourceContract, waitFor, type LogFixture } from './source-contract.ts';

let env: TestEnv;
let sink: KafkaSink;
const groups: string[] = [];

beforeAll(async () => {
  env = await openTestEnv();
  sink = new KafkaSink({ brokers: env.brokers, clientId: `${env.ns}-sink` });
  await sink.connect();
});

afterAll(async () => {
  await sink?.disconnect();
  if (groups.length > 0) await env?.admin.deleteGroups(groups).catch(() => {});
  await env?.cleanup();
});

function sourceOptions(groupId: string, topics: readonly (string | RegExp)[], extra: Partial<KafkaSourceOptions> = {}): KafkaSourceOptions {
  return {
    brokers: env.brokers,
    clientId: `${env.ns}-source`,
    groupId,
    topics,
    fromBeginning: true,
    // Short fetch waits and heartbeats keep stops and rebalances within a test's budget.
    maxWaitTimeInMs: 100,
    heartbeatInterval: 300,
    sessionTimeout: 10_000,
    ...extra,
  };
}

function groupId(name: string): string {
  const id = `${env.ns}-${name}`;
  groups.push(id);
  return id;
}

async function committed(group: string, topic: string): Promise<Map<number, string>> {
  const [offsets] = await env.admin.fetchOffsets({ groupId: group, topics: [topic] });
  return new Map((offsets?.partitions ?? []).filter((p) => p.offset !== '-1').map((p) => [p.partition, p.offset]));
}

function kafkaFixture(): LogFixture {
  return {
    createTopic: (name, partitions) => env.createTopic(name, partitions),
    produce: async (topic, messages, oneByOne = false) => {
      if (!oneByOne) return sink.send([{ topic, messages }]);
      for (const m of messages) await sink.send([{ topic, messages: [m] }]);
    },
    source: (group, topics, options = {}) =>
      new KafkaSource(
        sourceOptions(group, topics, {
          // Below one record's size: the broker then returns one record batch per fetch.
          ...(options.smallBatches === true ? { maxBytesPerPartition: 64 } : {}),
          ...(options.concurrency === undefined ? {} : { partitionsConsumedConcurrently: options.concurrency }),
        }),
      ),
    committed,
    groupId,
  };
}

describe('KafkaSource source contract', () => {
  sourceContract(kafkaFixture);
});

describe('KafkaSource on Kafka', () => {
  it('redelivers after a handler throws a TypeError, which kafkajs alone would treat as fatal', async () => {
    const topic = await env.createTopic('type-error', 1);
    const group = groupId('type-error');
    await sink.send([{ topic, messages: [{ key: 'k', value: 'a' }, { key: 'k', value: 'b' }] }]);
    const seen: string[] = [];
    const crashes: boolean[] = [];
    const source = new KafkaSource(sourceOptions(group, [topic], { onCrash: (_e, restarting) => crashes.push(restarting) }));
    let failed = false;
    await source.start(async (batch, control) => {
      seen.push(...batch.messages.map((m) => m.value!.toString()));
      if (!failed) {
        failed = true;
        throw new TypeError('a bug in the handler');
      }
      await control.commit(String(Number(batch.messages.at(-1)!.offset) + 1));
    });
    try {
      await waitFor(async () => (await committed(group, topic)).get(0) === '2', 'the commit after redelivery');
    } finally {
      await source.stop();
    }
    expect(seen).toEqual(['a', 'b', 'a', 'b']);
    expect(crashes).toEqual([]);
  });

  it('survives more consecutive handler failures than kafkajs retries: the consumer restarts and rereads from the commit', async () => {
    const topic = await env.createTopic('restart', 1);
    const group = groupId('restart');
    await sink.send([{ topic, messages: Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: String(i) })) }]);
    const crashes: boolean[] = [];
    const firstOffsets: string[] = [];
    const source = new KafkaSource(sourceOptions(group, [topic], { onCrash: (_e, restarting) => crashes.push(restarting) }));
    let attempts = 0;
    await source.start(async (batch, control) => {
      firstOffsets.push(batch.messages[0]!.offset);
      if (attempts === 0) await control.commit('2');
      attempts += 1;
      // kafkajs' consumer retries 5 times, then crashes and restarts itself.
      if (attempts <= 8) throw new StreamcellError('redis_unavailable', 'Redis is down', { retriable: false });
      await control.commit(String(Number(batch.messages.at(-1)!.offset) + 1));
    });
    try {
      await waitFor(async () => (await committed(group, topic)).get(0) === '5', 'the final commit', 25_000);
    } finally {
      await source.stop();
    }
    expect(crashes.length).toBeGreaterThanOrEqual(1);
    expect(crashes.every((restarting) => restarting)).toBe(true);
    expect(firstOffsets[0]).toBe('0');
    expect(firstOffsets.slice(1).every((o) => o === '2')).toBe(true);
    expect(firstOffsets.length).toBe(9);
  });

  it('merges the commits of partitions handled at once into one OffsetCommit request, each partition at its own offset', async () => {
    const partitions = 6;
    const topic = await env.createTopic('group-commit', partitions);
    const group = groupId('group-commit');
    // A key per partition (the sink's murmur2 placement): partition p gets p + 2 messages.
    const keyFor = (p: number): string => {
      for (let i = 0; ; i++) if (partitionForKey(`k${i}`, partitions) === p) return `k${i}`;
    };
    const messages = Array.from({ length: partitions }, (_, p) => Array.from({ length: p + 2 }, (_, i) => ({ key: keyFor(p), value: `${p}-${i}` }))).flat();
    await sink.send([{ topic, messages }]);
    const source = new KafkaSource(sourceOptions(group, [topic], { partitionsConsumedConcurrently: partitions }));
    const arrived = new Set<number>();
    let release!: () => void;
    const allArrived = new Promise<void>((resolve) => {
      release = resolve;
    });
    let commits = 0;
    await source.start(async (batch, control) => {
      arrived.add(batch.partition);
      if (arrived.size === partitions) release();
      // Hold every batch until all partitions' batches are in hand, so that their commits are concurrent.
      await Promise.race([allArrived, new Promise((r) => setTimeout(r, 10_000))]);
      commits += 1;
      await control.commit(String(Number(batch.messages.at(-1)!.offset) + 1));
    });
    try {
      await waitFor(async () => (await committed(group, topic)).size === partitions, 'a commit on every partition');
    } finally {
      await source.stop();
    }
    expect(arrived.size, 'all partitions were handed out together').toBe(partitions);
    expect(commits).toBe(partitions);
    expect(await committed(group, topic)).toEqual(new Map(Array.from({ length: partitions }, (_, p) => [p, String(p + 2)])));
    // All six commits come in one turn of the event loop: one request.
    expect(source.commitRequests).toBe(1);
  });

  it('shares the partitions with a second member after a rebalance, each handling only its own', async () => {
    const topic = await env.createTopic('rebalance', 4);
    const group = groupId('rebalance');
    const got = new Map<string, InboundBatch[]>([
      ['a', []],
      ['b', []],
    ]);
    const handler = (name: string) => async (batch: InboundBatch, control: { commit(o: string): Promise<void>; isStale(): boolean }) => {
      got.get(name)!.push(batch);
      if (!control.isStale()) await control.commit(String(Number(batch.messages.at(-1)!.offset) + 1));
    };
    const a = new KafkaSource(sourceOptions(group, [topic], { clientId: `${env.ns}-a` }));
    const b = new KafkaSource(sourceOptions(group, [topic], { clientId: `${env.ns}-b` }));
    await a.start(handler('a'));
    try {
      expect(a.assignments().get(topic)).toEqual([0, 1, 2, 3]);
      await b.start(handler('b'));
      const mine = (s: KafkaSource): number[] => [...(s.assignments().get(topic) ?? [])];
      await waitFor(() => mine(a).length > 0 && mine(b).length > 0 && mine(a).length + mine(b).length === 4, 'both members to hold partitions');
      expect([...mine(a), ...mine(b)].sort()).toEqual([0, 1, 2, 3]);

      const messages = Array.from({ length: 200 }, (_, i) => ({ key: `s-${i % 40}`, value: String(i) }));
      await sink.send([{ topic, messages }]);
      const count = (): number => [...got.values()].flat().reduce((n, x) => n + x.messages.length, 0);
      await waitFor(() => count() >= messages.length, 'all messages');
      for (const [name, batches] of got) {
        const own = mine(name === 'a' ? a : b);
        for (const batch of batches) expect(own, `${name} got partition ${batch.partition}`).toContain(batch.partition);
      }
      expect(count()).toBe(messages.length);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('during a long batch a rebalance makes heartbeat throw and isStale true; the commit of work done lands and the new owner goes on from it', async () => {
    const topic = await env.createTopic('stale', 2);
    const group = groupId('stale');
    const keyFor = (p: number): string => Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => partitionForKey(k, 2) === p)!;
    await sink.send([{ topic, messages: [0, 1].map((p) => ({ key: keyFor(p), value: `first-${p}` })) }]);
    const aBatches: { partition: number; offset: string; staleAtEntry: boolean; heartbeatThrew: boolean; staleAtEnd: boolean; commit: string }[] = [];
    const bOffsets: string[] = [];
    const a = new KafkaSource(sourceOptions(group, [topic], { clientId: `${env.ns}-a`, heartbeatInterval: 200 }));
    await a.start(async (batch, control) => {
      const entry = { partition: batch.partition, offset: batch.messages[0]!.offset, staleAtEntry: control.isStale(), heartbeatThrew: false, staleAtEnd: false, commit: '' };
      aBatches.push(entry);
      // A long batch, heartbeating as it goes, until the group says it is rebalancing.
      const until = Date.now() + 4_000;
      while (Date.now() < until && !entry.heartbeatThrew && aBatches.length === 1) {
        await new Promise((r) => setTimeout(r, 100));
        await control.heartbeat().catch(() => (entry.heartbeatThrew = true));
      }
      entry.staleAtEnd = control.isStale();
      entry.commit = await control.commit(String(Number(batch.messages.at(-1)!.offset) + 1)).then(
        () => 'ok',
        (e: unknown) => String(e),
      );
    });
    const b = new KafkaSource(sourceOptions(group, [topic], { clientId: `${env.ns}-b`, heartbeatInterval: 200 }));
    try {
      await waitFor(() => aBatches.length === 1, 'A inside its first batch');
      await b.start(async (batch, control) => {
        bOffsets.push(...batch.messages.map((m) => m.offset));
        await control.commit(String(Number(batch.messages.at(-1)!.offset) + 1));
      });
      const owned = (s: KafkaSource): number[] => [...(s.assignments().get(topic) ?? [])];
      await waitFor(() => owned(a).length === 1 && owned(b).length === 1, 'one partition each');
      await sink.send([{ topic, messages: [0, 1].map((p) => ({ key: keyFor(p), value: `second-${p}` })) }]);
      await waitFor(() => aBatches.filter((x) => x.offset === '1').length + bOffsets.filter((o) => o === '1').length === 2, 'the second round');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    expect(aBatches[0]).toMatchObject({ offset: '0', staleAtEntry: false, heartbeatThrew: true, staleAtEnd: true, commit: 'ok' });
    // The other partition's batch came from the same fetch and was handed over after the rebalance began.
    expect(aBatches[1]).toMatchObject({ offset: '0', staleAtEntry: true, commit: 'ok' });
    // Both first messages were committed by A during the rebalance, so B re-read neither.
    expect(bOffsets).toEqual(['1']);
    expect(await committed(group, topic)).toEqual(new Map([[0, '2'], [1, '2']]));
  });

  it('refuses a topic that does not exist and brokers that do not answer, with our error codes', async () => {
    const missing = new KafkaSource(sourceOptions(groupId('missing'), [env.topic('never-created')]));
    const err1 = await missing.start(async () => {}).catch((e: unknown) => e);
    expect(isStreamcellError(err1, 'config_invalid')).toBe(true);
    expect(missing.assignments().size).toBe(0);

    const t0 = Date.now();
    const unreachable = new KafkaSource({ ...sourceOptions('g', ['t']), brokers: ['127.0.0.1:1'], retry: { retries: 1, initialRetryTime: 50 } });
    const err2 = await unreachable.start(async () => {}).catch((e: unknown) => e);
    expect(isStreamcellError(err2, 'kafka_unavailable')).toBe(true);
    expect((err2 as StreamcellError).retriable).toBe(true);
    expect((err2 as Error).message).toContain('127.0.0.1:1');
    expect(Date.now() - t0).toBeLessThan(15_000);
    await unreachable.stop();

    expect(() => new KafkaSource({ ...sourceOptions('g', ['t']), heartbeatInterval: 5_000, sessionTimeout: 5_000 })).toThrow(/heartbeatInterval/);
    expect(() => new KafkaSource({ ...sourceOptions('g', ['t']), brokers: [] })).toThrow(/brokers/);
  });

  it('subscribes by RegExp to the matching topics that exist at start', async () => {
    const t1 = await env.createTopic('re-in-1', 1);
    const t2 = await env.createTopic('re-in-2', 2);
    await env.createTopic('re-out', 1);
    const source = new KafkaSource(sourceOptions(groupId('regexp'), [new RegExp(`^${env.ns.replace(/[-]/g, '\\-')}\\.re-in-`)]));
    await source.start(async () => {});
    try {
      expect(new Map([...source.assignments()].map(([t, ps]) => [t, [...ps]]))).toEqual(
        new Map([
          [t1, [0]],
          [t2, [0, 1]],
        ]),
      );
    } finally {
      await source.stop();
    }
  });
});
