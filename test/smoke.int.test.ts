/**
 * Proves the plumbing is real: kafkajs producing to and consuming from a real
 * broker in a consumer group, and per-key state kept in a real Redis through a
 * Lua script registered with ioredis defineCommand.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callLuaScript, defineLuaScripts, readLuaScripts } from '@streamcell/state';
import { javaCompatiblePartitioner, openTestEnv, type TestEnv } from './support/services.ts';

const MESSAGES = 1000;
const KEYS = 50;
const PARTITIONS = 6;

describe('smoke: Kafka consumer group into Redis Lua', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await openTestEnv();
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it('delivers 1,000 messages over 50 keys in per-key order, counted exactly once in Redis', async () => {
    const topic = await env.createTopic('smoke', PARTITIONS);
    const scripts = readLuaScripts(fileURLToPath(new URL('./lua', import.meta.url)), `smoke-${env.ns}`);
    const commands = defineLuaScripts(env.redis, scripts);
    const advance = commands.get('advanceCounter')!;

    const producer = env.kafka.producer({ createPartitioner: javaCompatiblePartitioner, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const nextSeq = new Map<string, number>();
    const messages = Array.from({ length: MESSAGES }, (_, i) => {
      const key = `key-${i % KEYS}`;
      const seq = nextSeq.get(key) ?? 0;
      nextSeq.set(key, seq + 1);
      return { key, value: JSON.stringify({ key, seq }) };
    });
    for (let i = 0; i < messages.length; i += 100) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 100) });
    }
    await producer.disconnect();

    const seenOrder = new Map<string, number[]>();
    const partitionsSeen = new Set<number>();
    let counted = 0;
    const anomalies: string[] = [];
    const consumer = env.kafka.consumer({ groupId: `${env.ns}-group`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const allCounted = new Promise<void>((resolve) => {
      void consumer.run({
        autoCommit: false,
        eachBatch: async (payload) => {
          const { batch } = payload;
          partitionsSeen.add(batch.partition);
          for (const message of batch.messages) {
            const { key, seq } = JSON.parse(message.value!.toString()) as { key: string; seq: number };
            expect(message.key?.toString()).toBe(key);
            seenOrder.set(key, [...(seenOrder.get(key) ?? []), seq]);
            const result = Number(await callLuaScript(env.redis, advance, [`${env.keyPrefix}count:${key}`], [seq, 600]));
            if (result === -1) anomalies.push(`gap at ${key} seq ${seq}`);
            else if (result >= 1) counted += 1;
            payload.resolveOffset(message.offset);
          }
          await payload.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }] }] });
          await payload.heartbeat();
          if (counted >= MESSAGES) resolve();
        },
      });
    });
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`only ${counted} of ${MESSAGES} counted within 60 s`)), 60_000));
    try {
      await Promise.race([allCounted, timeout]);
    } finally {
      await consumer.disconnect();
    }

    expect(anomalies).toEqual([]);
    expect(partitionsSeen.size).toBe(PARTITIONS);
    let total = 0;
    for (let k = 0; k < KEYS; k++) {
      const key = `key-${k}`;
      const stored = await env.redis.hgetall(`${env.keyPrefix}count:${key}`);
      expect(stored).toEqual({ n: String(MESSAGES / KEYS), last: String(MESSAGES / KEYS - 1) });
      total += Number(stored.n);
      const order = seenOrder.get(key)!;
      // Redeliveries may repeat a prefix, but order within the key never goes backwards past them.
      const firstPass = order.slice(0, MESSAGES / KEYS);
      expect(firstPass).toEqual(Array.from({ length: MESSAGES / KEYS }, (_, i) => i));
    }
    expect(total).toBe(MESSAGES);
  });
});
