import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { chunkRecords } from '../src/kafka-sink.ts';
import { MemoryLog } from '../src/memory-log.ts';
import { createMurmur2Partitioner, murmur2, partitionForKey } from '../src/murmur2.ts';
import { PackedMessageWriter, isPacked, messageCount, unpackMessages, type PackedMessages } from '../src/packed.ts';
import type { OutboundMessage } from '../src/types.ts';

/**
 * Packed messages (packed.ts and the kafkajs patch's
 * producer/packedMessages.js): what the worker's step thread writes must
 * reach Kafka as the very records the same messages as objects make, on the
 * same partitions, with the same sequence numbers.
 */
const require = createRequire(import.meta.url);
type KafkaMessage = { key?: string | Buffer | null; value: string | Buffer | null; headers?: Record<string, string>; streamcellPacked?: unknown; streamcellIndices?: number[] };
const group = require('kafkajs/src/producer/groupMessagesPerPartition.js') as (args: {
  topic: string;
  partitionMetadata: { partitionId: number; leader: number }[];
  messages: KafkaMessage[];
  partitioner: (args: { topic: string; partitionMetadata: { partitionId: number; leader: number }[]; message: KafkaMessage }) => number;
}) => Record<string, KafkaMessage[]>;
const { recordCount } = require('kafkajs/src/producer/packedMessages.js') as { recordCount: (messages: KafkaMessage[]) => number };
interface KafkaEncoderObject {
  buffer: Buffer;
}
const produceV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (args: {
  acks: number;
  timeout: number;
  compression?: number;
  topicData: { topic: string; partitions: { partition: number; firstSequence?: number; messages: KafkaMessage[] }[] }[];
}) => { encode(): Promise<KafkaEncoderObject> };

type SendMessages = (args: { acks: number; timeout?: number; compression?: number; topicMessages: { topic: string; messages: KafkaMessage[] }[] }) => Promise<unknown[]>;
const createSendMessages = require('kafkajs/src/producer/sendMessages.js') as (deps: object) => SendMessages;
const createRetry = require('kafkajs/src/retry/index.js') as (options: object) => unknown;
const { KafkaJSError } = require('kafkajs/src/errors.js') as { KafkaJSError: new (message: string, options: { retriable: boolean }) => Error };

const HEADER = 'streamcell-idempotency-key';

/** Messages of every shape the writer has to get right: keys and values of 1-, 2- and 3-byte varint lengths, non-ASCII text, with and without a header. */
function sampleMessages(n: number): { key: string; value: Buffer; prefix: string; tail: string | undefined }[] {
  const keys = ['stream-1', '', 'é😀-sensor', 'k'.repeat(63), 'k'.repeat(64), 'ü'.repeat(200), 'x'.repeat(5000)];
  const sizes = [0, 1, 63, 64, 300, 8191, 8192, 20_000];
  const tails = [undefined, '', '12', 'ÿ'.repeat(40), '9'.repeat(70)];
  return Array.from({ length: n }, (_, i) => ({
    key: `${keys[i % keys.length]!}${i % 3 === 0 ? '' : String(i)}`,
    value: randomBytes(sizes[(i * 7) % sizes.length]!),
    prefix: i % 2 === 0 ? 'events/3/' : 'événements/11/',
    tail: tails[i % tails.length],
  }));
}

/** Packs `samples` with a writer given little room first, so that it grows several times. */
function pack(topic: string, samples: ReturnType<typeof sampleMessages>): PackedMessages {
  const w = new PackedMessageWriter(samples.length, 8);
  const headers = new Map<string, ReturnType<typeof PackedMessageWriter.header>>();
  for (const s of samples) {
    const at = w.beginValue(s.key, s.value.length);
    s.value.copy(w.buffer, at);
    if (s.tail === undefined) w.endMessage(at + s.value.length);
    else {
      let h = headers.get(s.prefix);
      if (h === undefined) headers.set(s.prefix, (h = PackedMessageWriter.header(HEADER, s.prefix)));
      w.endMessage(at + s.value.length, h, s.tail);
    }
  }
  return { topic, ...w.finish() };
}

function asObjects(samples: ReturnType<typeof sampleMessages>): OutboundMessage[] {
  return samples.map((s) => (s.tail === undefined ? { key: s.key, value: s.value } : { key: s.key, value: s.value, headers: { [HEADER]: s.prefix + s.tail } }));
}

/** Messages in a form vitest compares quickly (values as base64 text). */
function comparable(messages: readonly OutboundMessage[]): unknown[] {
  return messages.map((m) => ({ key: m.key, value: m.value === null ? null : Buffer.from(m.value).toString('base64'), headers: m.headers }));
}

const partitionMetadata = Array.from({ length: 12 }, (_, i) => ({ partitionId: i, leader: 1 }));

describe('packed messages', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('read back as the messages written, with each key hashed as murmur2 of its UTF-8 bytes', () => {
    const samples = sampleMessages(300);
    const packed = pack('forecasts', samples);
    expect(isPacked(packed)).toBe(true);
    expect(isPacked({ topic: 'forecasts', messages: [] })).toBe(false);
    expect(messageCount(packed)).toBe(300);
    expect(packed.bounds[0]).toBe(0);
    expect(packed.bounds.at(-1)).toBe(packed.bytes.length);
    expect(comparable(unpackMessages(packed))).toEqual(comparable(asObjects(samples)));
    for (const [i, s] of samples.entries()) expect(packed.keyHashes[i]).toBe(murmur2(Buffer.from(s.key, 'utf8')));
    // Nothing written: nothing packed.
    const none = new PackedMessageWriter(0).finish();
    expect([messageCount(none), none.bytes.length, [...none.bounds]]).toEqual([0, 0, [0]]);
  });

  it('refuse a message begun twice, ended without a beginning, or beyond the room given', () => {
    const w = new PackedMessageWriter(1);
    expect(() => w.endMessage(0)).toThrow(/no message begun/);
    const at = w.beginValue('k', 10);
    expect(() => w.beginValue('k', 10)).toThrow(/not ended/);
    expect(() => w.finish()).toThrow(/not ended/);
    expect(() => w.endMessage(at - 1)).toThrow(RangeError);
    // A value longer than the room it was given.
    expect(() => w.endMessage(at + 11)).toThrow(/outside the 10 bytes/);
    w.endMessage(at + 3);
    expect(() => w.beginValue('k', 10)).toThrow(/room for 1 messages/);
    expect(unpackMessages(w.finish())).toHaveLength(1);
  });

  it('become the very produce request the same messages as objects make, on the partitions the murmur2 partitioner picks', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_764_240_000_123);
    const samples = sampleMessages(500);
    const objects = asObjects(samples);
    const packed = pack('forecasts', samples);
    const partitioner = createMurmur2Partitioner()();
    const byObjects = group({ topic: 'forecasts', partitionMetadata, messages: objects, partitioner });
    const pseudo: KafkaMessage = { value: null, streamcellPacked: { bytes: packed.bytes, bounds: packed.bounds, keyHashes: packed.keyHashes } };
    // Objects sent after the packed ones share their partitions' batches: the offset deltas run on.
    const extra: KafkaMessage[] = Array.from({ length: 30 }, (_, i) => ({ key: `late-${i}`, value: `v${i}`, headers: { [HEADER]: `t/0/${i}` } }));
    const byPacked = group({ topic: 'forecasts', partitionMetadata, messages: [pseudo, ...extra], partitioner });
    const expected = group({ topic: 'forecasts', partitionMetadata, messages: [...objects, ...extra], partitioner });
    expect(Object.keys(byPacked)).toEqual(Object.keys(expected));
    expect(Object.keys(byObjects).every((p) => p in byPacked)).toBe(true);
    for (const p of Object.keys(expected)) {
      const slices = byPacked[p]!;
      expect(recordCount(slices)).toBe(expected[p]!.length);
      // One slice per partition, its messages in order, then the objects.
      expect(slices.filter((m) => m.streamcellIndices !== undefined)).toHaveLength(byObjects[p] === undefined ? 0 : 1);
      const indices = slices[0]?.streamcellIndices ?? [];
      expect(comparable(indices.map((i) => objects[i]!))).toEqual(comparable((byObjects[p] ?? []) as OutboundMessage[]));
    }
    const request = (messages: Record<string, KafkaMessage[]>): Promise<KafkaEncoderObject> =>
      produceV3({
        acks: -1,
        timeout: 30_000,
        topicData: [{ topic: 'forecasts', partitions: Object.keys(messages).map((p, i) => ({ partition: Number(p), firstSequence: 7 * i, messages: messages[p]! })) }],
      }).encode();
    const fromPacked = (await request(byPacked)).buffer;
    expect(fromPacked.equals((await request(expected)).buffer)).toBe(true);
    // Packed messages take no compression (they have no key or value of their own to compress).
    await expect(produceV3({ acks: -1, timeout: 1, compression: 1, topicData: [{ topic: 'forecasts', partitions: [{ partition: 0, messages: byPacked['0'] ?? [] }] }] }).encode()).rejects.toThrow(/without compression/);
  });

  it('count as one record each in the idempotent producer\'s sequence numbers, also when a send fails and is retried', async () => {
    const samples = sampleMessages(50);
    const packed = pack('forecasts', samples);
    const pseudo: KafkaMessage = { value: null, streamcellPacked: { bytes: packed.bytes, bounds: packed.bounds, keyHashes: packed.keyHashes } };
    const sequences = new Map<number, number>();
    const requests: { partition: number; firstSequence: number; messages: KafkaMessage[] }[][] = [];
    let failures = 1;
    const broker = {
      nodeId: 1,
      produce: ({ topicData }: { topicData: { partitions: { partition: number; firstSequence: number; messages: KafkaMessage[] }[] }[] }) => {
        requests.push(topicData[0]!.partitions.map((p) => ({ ...p })));
        if (failures-- > 0) return Promise.reject(new KafkaJSError('broker busy', { retriable: true }));
        return Promise.resolve({ topics: [] });
      },
    };
    const logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
    const send = createSendMessages({
      logger,
      partitioner: createMurmur2Partitioner()(),
      retrier: createRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 5 }),
      cluster: {
        refreshMetadataIfNecessary: () => Promise.resolve(),
        refreshMetadata: () => Promise.resolve(),
        addMultipleTargetTopics: () => Promise.resolve(),
        isConnected: () => true,
        findTopicPartitionMetadata: () => partitionMetadata,
        findLeaderForPartitions: (_: string, partitions: string[]) => ({ 1: partitions.map(Number) }),
        findBroker: () => Promise.resolve(broker),
      },
      eosManager: {
        isTransactional: () => false,
        getProducerId: () => 7,
        getProducerEpoch: () => 0,
        getTransactionalId: () => undefined,
        acquireBrokerLock: () => Promise.resolve(),
        releaseBrokerLock: () => Promise.resolve(),
        getSequence: (_: string, partition: number) => sequences.get(partition) ?? 0,
        updateSequence: (_: string, partition: number, increment: number) => sequences.set(partition, (sequences.get(partition) ?? 0) + increment),
      },
    });
    const extra: KafkaMessage = { key: samples[0]!.key, value: 'object' };
    await send({ acks: -1, topicMessages: [{ topic: 'forecasts', messages: [pseudo, extra] }] });
    await send({ acks: -1, topicMessages: [{ topic: 'forecasts', messages: [pseudo] }] });
    // The first request failed and was retried: same first sequences, none skipped.
    expect(requests).toHaveLength(3);
    expect(requests[1]!.map((p) => [p.partition, p.firstSequence])).toEqual(requests[0]!.map((p) => [p.partition, p.firstSequence]));
    const perPartition = new Map<number, number>();
    for (const s of [...samples, { key: samples[0]!.key }, ...samples]) {
      const p = partitionForKey(s.key, 12);
      perPartition.set(p, (perPartition.get(p) ?? 0) + 1);
    }
    expect(new Map([...sequences].filter(([, n]) => n > 0))).toEqual(perPartition);
    // The second send starts each partition where the first ended.
    for (const p of requests[2]!) expect(p.firstSequence, `partition ${p.partition}`).toBe(perPartition.get(p.partition)! - recordCount(p.messages));
  });

  it('are cut between messages by KafkaSink as the same messages as objects are, nothing lost or reordered', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_764_240_000_123);
    const samples = sampleMessages(80);
    const packed = pack('forecasts', samples);
    const objects = { topic: 'forecasts', messages: asObjects(samples) };
    const dlq = { topic: 'events.dlq', messages: [{ key: 'x', value: Buffer.alloc(100) }] };
    const sizes = Array.from(packed.bounds.subarray(1), (end, i) => 24 + end - packed.bounds[i]!);
    for (const budget of [1, 5_000, 30_000, 10_000_000]) {
      const chunks = chunkRecords([packed, dlq, packed], budget);
      const same = chunkRecords([objects, dlq, objects], budget, [...sizes, 124, ...sizes]);
      expect(chunks.length, `budget ${budget}`).toBe(same.length);
      for (const [c, chunk] of chunks.entries()) {
        const unpacked = (m: unknown): OutboundMessage[] => {
          const packedPart = (m as KafkaMessage).streamcellPacked as PackedMessages | undefined;
          return packedPart === undefined ? [m as OutboundMessage] : unpackMessages(packedPart);
        };
        const got = chunk.map((t) => ({ topic: t.topic, messages: comparable(t.messages.flatMap(unpacked)) }));
        expect(got, `budget ${budget}, chunk ${c}`).toEqual(same[c]!.map((t) => ({ topic: t.topic, messages: comparable(t.messages as OutboundMessage[]) })));
        // And the same produce request, key hashes and all.
        const request = (topics: { topic: string; messages: unknown[] }[]): Promise<KafkaEncoderObject> =>
          produceV3({
            acks: -1,
            timeout: 1,
            topicData: topics.map((t) => {
              const byPartition = group({ topic: t.topic, partitionMetadata, messages: t.messages as KafkaMessage[], partitioner: createMurmur2Partitioner()() });
              return { topic: t.topic, partitions: Object.keys(byPartition).map((p) => ({ partition: Number(p), messages: byPartition[p]! })) };
            }),
          }).encode();
        expect((await request(chunk)).buffer.equals((await request(same[c]!)).buffer), `budget ${budget}, chunk ${c}`).toBe(true);
      }
    }
  });

  it('land in the in-memory log as the messages they pack, on the partitions of their keys (which their key hashes give too)', async () => {
    const log = new MemoryLog();
    log.createTopic('forecasts', 5);
    const samples = sampleMessages(60);
    const sink = log.sink();
    await sink.connect();
    const packed = pack('forecasts', samples);
    for (const [i, s] of samples.entries()) expect((packed.keyHashes[i]! & 0x7fffffff) % 5).toBe(partitionForKey(s.key, 5));
    await sink.send([packed]);
    const seen = new Map<number, OutboundMessage[]>();
    for (const s of samples) {
      const p = partitionForKey(s.key, 5);
      seen.set(p, [...(seen.get(p) ?? []), asObjects([s])[0]!]);
    }
    const all = log.read('forecasts');
    for (const [p, messages] of seen) {
      const stored = all.filter((m) => m.partition === p);
      expect(comparable(stored.map((m) => ({ key: m.key?.toString('utf8') ?? null, value: m.value, headers: m.headers })))).toEqual(comparable(messages.map((m) => ({ ...m, headers: m.headers ?? {} }))));
    }
  });
});
