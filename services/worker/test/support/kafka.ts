/**
 * Kafka helpers for the worker's integration tests, on kafkajs directly (not
 * on @streamcell/streams, which is under test): produce at a steady pace,
 * read a whole topic back, wait for a consumer group to commit everything.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, Message, Producer } from 'kafkajs';
import type { InboundMessage } from '@streamcell/streams';
import { javaCompatiblePartitioner } from '../../../../test/support/services.ts';

/** A message read back from a topic: the same shape the worker consumes. */
export type ReadMessage = InboundMessage;

/** An idempotent, acks=all producer with the Java-compatible partitioner (key = stream id decides the partition). */
export async function connectProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({ createPartitioner: javaCompatiblePartitioner, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  return producer;
}

/**
 * Sends `messages` in order, `chunk` at a time, at about `perSecond` messages
 * per second (a steady feed rather than one burst, so that what the test does
 * meanwhile lands mid-run). `onProgress` is called with the count sent after
 * every chunk; it may await, to act at a given point of the feed.
 */
export async function produceAtPace(
  producer: Producer,
  topic: string,
  messages: readonly Message[],
  options: { perSecond: number; chunk: number; onProgress?: (sent: number) => void | Promise<void> },
): Promise<void> {
  const started = performance.now();
  for (let i = 0; i < messages.length; i += options.chunk) {
    const part = messages.slice(i, i + options.chunk);
    await producer.send({ topic, acks: -1, messages: [...part] });
    const sent = i + part.length;
    await options.onProgress?.(sent);
    const due = started + (sent * 1000) / options.perSecond;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The high watermark (next offset) of every partition of `topic`. */
export async function endOffsets(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((p) => [p.partition, BigInt(p.high)]));
}

/** The group's committed next offset per partition of `topic` (-1: none yet). */
export async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((t?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
}

/** Partitions whose commit is behind the end, as `partition: committed/end`. */
export async function lagging(admin: Admin, groupId: string, topic: string): Promise<string[]> {
  const [ends, commits] = await Promise.all([endOffsets(admin, topic), committedOffsets(admin, groupId, topic)]);
  const behind: string[] = [];
  for (const [p, end] of [...ends].sort((a, b) => a[0] - b[0])) {
    const c = commits.get(p) ?? -1n;
    if (end > 0n && c !== end) behind.push(`${p}: ${c}/${end}`);
  }
  return behind;
}

/**
 * Waits until the consumer group has committed every partition of `topic` up
 * to its end (the end read at each poll, so call it once the feed is done).
 * `check` runs at every poll and may throw to give up early (a worker died).
 */
export async function waitForGroupCaughtUp(
  admin: Admin,
  groupId: string,
  topic: string,
  options: { timeoutMs: number; check?: () => void; onPoll?: (behind: string[]) => void },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    options.check?.();
    const behind = await lagging(admin, groupId, topic);
    options.onPoll?.(behind);
    if (behind.length === 0) return;
    if (Date.now() > deadline) throw new Error(`group ${groupId} did not commit ${topic} to its end within ${options.timeoutMs} ms; behind (partition: committed/end): ${behind.join(', ')}`);
    await sleep(250);
  }
}

/**
 * Reads `topic` from the beginning to the end it has when called, with a
 * throw-away consumer group (deleted afterwards). Order within each partition
 * is kept; the result lists partition after partition.
 */
export async function readTopic(kafka: Kafka, admin: Admin, topic: string, timeoutMs = 60_000): Promise<ReadMessage[]> {
  const ends = await endOffsets(admin, topic);
  const byPartition = new Map<number, ReadMessage[]>();
  const todo = new Set([...ends].filter(([, end]) => end > 0n).map(([p]) => p));
  if (todo.size === 0) return [];
  const groupId = `${topic}-reader-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const list = byPartition.get(batch.partition) ?? [];
          byPartition.set(batch.partition, list);
          for (const m of batch.messages) {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(m.headers ?? {})) {
              const one = Array.isArray(v) ? v[v.length - 1] : v;
              if (one !== undefined) headers[k] = one.toString();
            }
            list.push({ topic, partition: batch.partition, offset: m.offset, key: m.key ?? null, value: m.value ?? null, timestamp: Number(m.timestamp), headers });
          }
          const last = list[list.length - 1];
          if (last !== undefined && BigInt(last.offset) + 1n >= ends.get(batch.partition)!) todo.delete(batch.partition);
          if (todo.size === 0) resolve();
          await Promise.resolve();
        },
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`reading ${topic}: partitions ${[...todo].join(',')} not read to the end within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => {});
  }
  return [...byPartition].sort((a, b) => a[0] - b[0]).flatMap(([, list]) => list);
}


/** A seeded generator, so that a failing run can be repeated from its seed. */
export { seededRandom as prng } from '@streamcell/rnn';
