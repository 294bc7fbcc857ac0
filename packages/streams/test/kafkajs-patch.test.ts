import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';

/**
 * The local kafkajs patch (pnpm-workspace.yaml patchedDependencies) must be
 * applied and must not change what kafkajs computes: the CRC-32C of record
 * batches (the broker rejects a wrong one) and which partition each message
 * goes to, in order.
 */
const require = createRequire(import.meta.url);
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;
const batchCrc = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as ((b: Buffer) => number) & { native: boolean; NATIVE_MIN_BYTES: number };
const group = require('kafkajs/src/producer/groupMessagesPerPartition.js') as (args: {
  topic: string;
  partitionMetadata: unknown[];
  messages: { key: string }[];
  partitioner: (args: { message: { key: string } }) => number;
}) => Record<string, { key: string }[]>;
interface KafkaEncoder {
  writeInt32(v: number): KafkaEncoder;
  writeVarInt(v: number): KafkaEncoder;
  writeUVarInt(v: number): KafkaEncoder;
  writeVarLong(v: number): KafkaEncoder;
  buffer: Buffer;
}
const Encoder = require('kafkajs/src/protocol/encoder.js') as { new (size?: number): KafkaEncoder; sizeOfVarLong(v: number): number };

interface KafkaEncoderObject {
  writeInt16(v: number): KafkaEncoderObject;
  writeInt32(v: number): KafkaEncoderObject;
  writeString(v: string | null): KafkaEncoderObject;
  writeArray(v: unknown[]): KafkaEncoderObject;
  writeEncoder(v: KafkaEncoderObject): KafkaEncoderObject;
  size(): number;
  buffer: Buffer;
}
const EncoderClass = Encoder as unknown as new () => KafkaEncoderObject;
interface Message {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string | Buffer | (string | Buffer)[]> | undefined;
  timestamp?: string | number;
}
interface TopicData {
  topic: string;
  partitions: { partition: number; firstSequence?: number; messages: Message[] }[];
}
const produceV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (args: {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: TopicData[];
}) => { encode(): Promise<KafkaEncoderObject> };
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (args: object) => KafkaEncoderObject;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (args: object) => Promise<KafkaEncoderObject> };
const createRequest = require('kafkajs/src/protocol/request.js') as (args: {
  correlationId: number;
  clientId: string | null;
  request: { apiKey: number; apiVersion: number; encode(): Promise<KafkaEncoderObject> };
}) => Promise<KafkaEncoderObject>;
const Long = require('kafkajs/src/utils/long.js') as { fromInt(v: number): unknown; fromString(v: string): unknown };
interface KafkaDecoder {
  offset: number;
  readVarLongNumber(): number | { value: bigint };
  readVarLong(): { value: bigint };
  readInt8(): number;
}
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => KafkaDecoder;
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (d: KafkaDecoder) => Promise<{ records: { offset: string; timestamp: string; value: Buffer }[] }>;
const Batch = require('kafkajs/src/consumer/batch.js') as new (
  topic: string,
  fetchedOffset: string | number,
  data: { partition: number; highWatermark: string; messages: { offset: string; isControlRecord: boolean }[]; abortedTransactions: unknown[] },
) => { messagesWithinOffset: { offset: string }[] };

/**
 * The produce request as kafkajs 2.2.4 composes it without the patch (its
 * produce/v3 request.js, partition and topic encoders): a Record encoder per
 * message, RecordBatch over them, each level copied into the next. Record and
 * RecordBatch are kafkajs's own, untouched by the patch.
 */
async function unpatchedProduce(args: {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression: number;
  topicData: TopicData[];
}): Promise<Buffer> {
  // The request's own defaults.
  const { transactionalId = null, producerId = Long.fromInt(-1), producerEpoch = 0 } = args;
  const topics: KafkaEncoderObject[] = [];
  for (const { topic, partitions } of args.topicData) {
    const encodedPartitions: KafkaEncoderObject[] = [];
    for (const { partition, messages, firstSequence } of partitions) {
      const dateNow = Date.now();
      const stamps = messages.map((m) => m.timestamp).filter((t) => t != null).sort();
      const timestamps = stamps.length === 0 ? [dateNow] : stamps;
      const firstTimestamp = timestamps[0]!;
      const records = messages.map((message, i) => Record({ ...message, offsetDelta: i, timestampDelta: Number(message.timestamp || dateNow) - Number(firstTimestamp) }));
      const batch = await RecordBatch({
        compression: args.compression,
        records,
        firstTimestamp,
        maxTimestamp: timestamps[timestamps.length - 1],
        producerId,
        producerEpoch,
        firstSequence,
        transactional: !!transactionalId,
        lastOffsetDelta: records.length - 1,
      });
      encodedPartitions.push(new EncoderClass().writeInt32(partition).writeInt32(batch.size()).writeEncoder(batch));
    }
    topics.push(new EncoderClass().writeString(topic).writeArray(encodedPartitions));
  }
  return new EncoderClass().writeString(transactionalId).writeInt16(args.acks).writeInt32(args.timeout).writeArray(topics).buffer;
}

/** Unsigned LEB128 of a non-negative bigint: Kafka's varint encoding, from its definition. */
function leb128(z: bigint): number[] {
  const out: number[] = [];
  while (z >= 128n) {
    out.push(Number(z & 127n) | 128);
    z >>= 7n;
  }
  out.push(Number(z));
  return out;
}

/** Zigzag of a signed 64-bit (or 32-bit) integer: (n << 1) ^ (n >> 63). */
const zigzag = (n: bigint, bits: bigint): bigint => BigInt.asUintN(Number(bits), (n << 1n) ^ (n >> (bits - 1n)));

/** CRC-32C (Castagnoli, reflected 0x82F63B78), bit by bit: the definition. */
function crc32cBitwise(buf: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('the kafkajs patch', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is applied', () => {
    expect(crc32C.toString()).toContain('slicing-by-8');
    expect(group.toString()).toContain('streamcell patch');
    expect(new Encoder().writeUVarInt.toString()).toContain('streamcell patch');
    expect(typeof new Decoder(Buffer.alloc(1)).readVarLongNumber).toBe('function');
  });

  it('computes the standard CRC-32C at every length and alignment', () => {
    expect(crc32C(Buffer.from('123456789'))).toBe(0xe3069283);
    for (let n = 0; n < 300; n++) {
      const buf = randomBytes(n + 3).subarray(n % 3);
      expect(crc32C(buf)).toBe(crc32cBitwise(buf));
    }
  });

  it('computes record-batch CRCs natively where @node-rs/crc32 loads, the same CRC at every size', () => {
    // Prebuilt for this platform (linux x64 here, and in the Docker image):
    // the native path must be the one that runs, not the fallback.
    if (process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64')) expect(batchCrc.native).toBe(true);
    const min = batchCrc.NATIVE_MIN_BYTES;
    for (const n of [0, 1, 7, 8, 9, min - 1, min, min + 1, 1000, 4096 + 3, 100_000]) {
      for (const skew of [0, 1, 3]) {
        const buf = randomBytes(n + skew).subarray(skew);
        expect(batchCrc(buf), `${n} bytes`).toBe(crc32cBitwise(buf));
      }
    }
  });

  it('groups messages by partition in their order', () => {
    const messages = Array.from({ length: 1000 }, (_, i) => ({ key: `k${i}` }));
    const grouped = group({ topic: 't', partitionMetadata: [{}, {}, {}], messages, partitioner: ({ message }) => Number(message.key.slice(1)) % 3 });
    expect(Object.keys(grouped).sort()).toEqual(['0', '1', '2']);
    for (const p of [0, 1, 2]) expect(grouped[p]).toEqual(messages.filter((_, i) => i % 3 === p));
    expect(group({ topic: 't', partitionMetadata: [], messages, partitioner: () => 0 })).toEqual({});
  });

  it('writes varints and varlongs as Kafka defines them, and sizes varlongs to match', () => {
    const values = [0, 1, -1, 63, 64, -64, -65, 127, 128, 300, -300, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 2 ** 50, -(2 ** 50), 2 ** 51 - 1, -(2 ** 51 - 1), 2 ** 51, 2 ** 53 - 1, -(2 ** 53 - 1), 1_764_240_000_000];
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      values.push(Math.round((seed / 2 ** 32 - 0.5) * 2 ** (seed % 54)));
    }
    for (const v of values) {
      const long = new Encoder().writeVarLong(v).buffer;
      expect([...long], `varlong ${v}`).toEqual(leb128(zigzag(BigInt(v), 64n)));
      expect(Encoder.sizeOfVarLong(v), `size ${v}`).toBe(long.length);
      const i32 = v | 0;
      expect([...new Encoder().writeVarInt(i32).buffer], `varint ${i32}`).toEqual(leb128(zigzag(BigInt(i32), 32n)));
      expect([...new Encoder().writeUVarInt(i32 >>> 0).buffer], `uvarint ${i32 >>> 0}`).toEqual(leb128(BigInt(i32 >>> 0)));
    }
  });

  it('writes strings with their varint UTF-8 length, short ASCII ones included', () => {
    const e = Encoder as unknown as new () => { writeVarIntString(v: unknown): { buffer: Buffer }; writeVarIntBytes(v: unknown): { buffer: Buffer } };
    const strings = ['', 'a', 'stream-42', 'x'.repeat(64), 'x'.repeat(65), 'y'.repeat(300), 'é', `${'a'.repeat(63)}é`, 'ümlaut', '😀', '\ud800', `${'b'.repeat(20)}\u007f`, `${'b'.repeat(20)}\u0080`];
    for (const v of strings) {
      const expected = Buffer.from([...leb128(zigzag(BigInt(Buffer.byteLength(v)), 32n)), ...Buffer.from(v, 'utf8')]);
      expect(new e().writeVarIntString(v).buffer.equals(expected), JSON.stringify(v)).toBe(true);
      expect(new e().writeVarIntBytes(v).buffer.equals(expected), JSON.stringify(v)).toBe(true);
    }
    expect([...new e().writeVarIntBytes(12345).buffer]).toEqual([10, ...Buffer.from('12345')]);
    expect(() => new e().writeVarIntString(12345)).toThrow(TypeError);
  });

  it('encodes only the bytes written', () => {
    const e = new Encoder();
    e.writeInt32(0x01020304);
    expect([...e.buffer]).toEqual([1, 2, 3, 4]);
  });

  it('writes an uncompressed produce request into one buffer, byte for byte as kafkajs composes it', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_764_240_000_123);
    const big = randomBytes(70_000);
    const holey: string[] = ['1'];
    holey[3] = 'four';
    const manyHeaders = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`header-${i}`, 'v'.repeat(i)]));
    const inherited = Object.assign(Object.create({ key: 'inherited', headers: { h: 'inherited' } }) as Message, { value: 'own value' });
    const many: Message[] = Array.from({ length: 300 }, (_, i) => ({ key: `stream-${i}`, value: Buffer.from(`{"i":${i},"é":"ü"}`), headers: i % 3 === 0 ? { 'streamcell-id': `x${i}` } : undefined }));
    const topicData: TopicData[] = [
      {
        topic: 'forecasts',
        partitions: [
          { partition: 0, messages: many.slice(0, 150) },
          { partition: 7, firstSequence: 41, messages: many.slice(150) },
          { partition: 3, messages: [{ key: null, value: null }, { value: 'ünïcode ✓' }, { key: Buffer.alloc(0), value: Buffer.alloc(0) }] },
        ],
      },
      {
        topic: 'events.dlq',
        partitions: [
          {
            partition: 11,
            firstSequence: 2 ** 31 - 5,
            messages: [
              { key: 'a', value: big, headers: { one: 'v', many: ['1', Buffer.from([0, 255]), ''], empty: '' }, timestamp: '1764240001000' },
              { key: 'b', value: 'late', timestamp: '1764240000500' },
              { key: 'c', value: 'no stamp' },
              // Record bodies of 63, 64, 8191, 8192 and 500 bytes (lengths of 1, 2 and 3 varint bytes): 8 or 9 bytes
              // besides the value (attributes, a 2-byte timestamp delta, offset delta, key, the value's length, no headers).
              ...[55, 56, 8182, 8183, 491].map((n) => ({ key: 'm', value: Buffer.alloc(n, 7) })),
            ],
          },
        ],
      },
      { topic: 'ümlaut-topic', partitions: [{ partition: 1, messages: [{ key: 'k', value: 'v', timestamp: '1' }] }] },
      {
        topic: 'odd-inputs',
        partitions: [
          // Numeric timestamps, 0 among them (falsy: the record takes Date.now()).
          { partition: 0, messages: [{ value: 'a', timestamp: 1_764_240_000_999 }, { value: 'b', timestamp: 0 }, { value: 'c', timestamp: '0' }, { value: 'd' }] },
          { partition: 5, messages: [] },
          // Header arrays with holes (flatMap skips them), many headers, a key inherited
          // rather than own (a spread drops it), a 1 MiB value (a 4-byte record length).
          { partition: 9, messages: [{ key: 'h', value: 'holes', headers: { arr: holey } }, { key: 'many', value: 'x', headers: manyHeaders }, inherited, { key: 'big', value: randomBytes(1 << 20) }] },
        ],
      },
    ];
    const cases: { acks: number; timeout: number; transactionalId?: string | null; producerId?: unknown; producerEpoch?: number }[] = [
      { acks: -1, timeout: 30_000, transactionalId: null, producerId: Long.fromString('123456789012'), producerEpoch: 3 },
      { acks: 1, timeout: 5, transactionalId: 'tx-ü', producerId: Long.fromInt(-1), producerEpoch: 0 },
      { acks: -1, timeout: 100 },
    ];
    for (const c of cases) {
      // Compressed requests (GZIP, 1) keep kafkajs's own path: the same bytes too.
      for (const compression of [0, 1]) {
        const request = produceV3({ ...c, compression, topicData });
        const encoded = (await request.encode()).buffer;
        expect(encoded.equals(await unpatchedProduce({ ...c, compression, topicData })), `${JSON.stringify(c)}, compression ${compression}`).toBe(true);
      }
      const patched = (await produceV3({ ...c, compression: 0, topicData }).encode()).buffer;
      // The batches' CRC-32C is the standard one: the first batch's, by the definition.
      const batchAt = 2 + (c.transactionalId == null ? 0 : Buffer.byteLength(c.transactionalId)) + 2 + 4 + 4 + 2 + 'forecasts'.length + 4 + 4 + 4;
      const length = patched.readInt32BE(batchAt + 8);
      const crcAt = batchAt + 8 + 4 + 4 + 1;
      expect(patched.readUInt32BE(crcAt)).toBe(crc32cBitwise(patched.subarray(crcAt + 4, batchAt + 12 + length)));
    }
  });

  it('writes a record into a growing buffer the same as the unpatched record encoder', () => {
    const writeInto = (Record as unknown as { writeInto: (e: KafkaEncoderObject, offsetDelta: number, timestampDelta: unknown, key: unknown, value: unknown, headers?: unknown) => KafkaEncoderObject }).writeInto;
    const records: { offsetDelta: number; timestampDelta: unknown; key: unknown; value: unknown; headers?: Record<string, unknown> }[] = [];
    // Bodies around every length-size boundary (1, 2, 3 and 4 varint bytes), with and without headers.
    for (const n of [0, 50, 55, 56, 57, 8180, 8182, 8183, 8184, (1 << 20) - 16, (1 << 20) + 16]) {
      records.push({ offsetDelta: 3, timestampDelta: -377, key: 'k', value: Buffer.alloc(n, 1) });
      records.push({ offsetDelta: 70_000, timestampDelta: Long.fromString('-9007199254740993'), key: null, value: 'é'.repeat(n >> 1), headers: { a: 'b', c: ['d', Buffer.from('e')] } });
    }
    // Bodies ending at every offset around a buffer size (the last header's value is written
    // after an exact-size growth): moving a body one byte on must first make room for it.
    for (let k = 0; k < 64; k++) records.push({ offsetDelta: 0, timestampDelta: 0, key: 'k', value: Buffer.alloc(16_300, 2), headers: { h: 'x'.repeat(k) } });
    for (const r of records) {
      const expected = Record(r).buffer;
      for (const prefix of [0, 1, 5, 13]) {
        const encoder = new EncoderClass();
        for (let i = 0; i < prefix; i++) encoder.writeInt16(i);
        // The encoder starts at 512 bytes: most of these records make it grow while written.
        const bytes = writeInto(encoder, r.offsetDelta, r.timestampDelta, r.key, r.value, r.headers).buffer;
        expect(bytes.subarray(prefix * 2).equals(expected), `${String(r.key)} ${expected.length} bytes, prefix ${prefix * 2}`).toBe(true);
      }
    }
  });

  it('frames a request once: size, header, payload', async () => {
    const payload = new EncoderClass().writeString('payload ✓').writeInt32(7);
    for (const clientId of ['streamcell-worker', null, 'ü'.repeat(300)]) {
      const framed = (await createRequest({ correlationId: 99, clientId, request: { apiKey: 0, apiVersion: 7, encode: () => Promise.resolve(payload) } })).buffer;
      const inner = new EncoderClass().writeInt16(0).writeInt16(7).writeInt32(99).writeString(clientId).writeEncoder(payload);
      expect(framed.equals(new EncoderClass().writeInt32(inner.size()).writeEncoder(inner).buffer)).toBe(true);
    }
  });

  it('reads varlongs as plain numbers only where exact, the same values as readVarLong', () => {
    const values: bigint[] = [0n, 1n, -1n, 63n, 64n, -64n, -65n, 2n ** 48n - 1n, -(2n ** 48n), 2n ** 48n, -(2n ** 48n) - 1n, 2n ** 53n, 2n ** 62n, -(2n ** 63n), 2n ** 63n - 1n];
    let seed = 11;
    for (let i = 0; i < 3000; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      values.push(BigInt(Math.round((seed / 2 ** 32 - 0.5) * 2 ** (seed % 60))));
    }
    for (const v of values) {
      const bytes = Buffer.from([...leb128(zigzag(v, 64n)), 0x2a]);
      const fast = new Decoder(bytes);
      const n = fast.readVarLongNumber();
      const slow = new Decoder(bytes);
      const long = slow.readVarLong();
      expect(typeof n === 'number' ? BigInt(n) : n.value, `varlong ${v}`).toBe(long.value);
      expect(long.value).toBe(v);
      // Numbers only where exact (7 bytes or fewer); both leave the decoder after the varlong.
      expect(typeof n === 'number').toBe(bytes.length - 1 <= 7);
      expect(fast.offset).toBe(slow.offset);
      expect(fast.readInt8()).toBe(0x2a);
    }
  });

  it('decodes record offsets and timestamps exactly, past 2^53 too', async () => {
    const cases: [bigint, bigint, bigint[]][] = [
      [0n, 1_764_240_000_000n, [0n, 1n, -1n, 5000n, -(2n ** 40n)]],
      [2n ** 53n - 3n, 2n ** 53n - 2n, [0n, 1n, 2n, 3n, 2n ** 47n]],
      [2n ** 62n + 12345n, -(2n ** 50n), [0n, -(2n ** 49n), 2n ** 60n, 7n]],
      [987_654_321n, 0n, [2n ** 48n, -(2n ** 48n), 2n ** 49n]],
    ];
    for (const [firstOffset, firstTimestamp, deltas] of cases) {
      const records = deltas.map((d, i) => Record({ offsetDelta: i, timestampDelta: Long.fromString(String(d)), key: `k${i}`, value: `v${i}` }));
      const batch = await RecordBatch({ firstOffset: Long.fromString(String(firstOffset)), firstTimestamp: Long.fromString(String(firstTimestamp)), maxTimestamp: Long.fromString(String(firstTimestamp)), records, lastOffsetDelta: records.length - 1 });
      const decoded = await decodeRecordBatch(new Decoder(batch.buffer));
      expect(decoded.records.map((r) => [r.offset, r.timestamp, String(r.value)])).toEqual(
        deltas.map((d, i) => [String(firstOffset + BigInt(i)), String(firstTimestamp + d), `v${i}`]),
      );
    }
  });

  it('keeps the messages at or past the fetched offset, compared exactly', () => {
    const offsets = ['0', '1', '9', '10', '99', '100', '9007199254740991', '9007199254740992', '9007199254740993', '18014398509481984', '123456789012345', '1234567890123456'];
    for (const fetched of [...offsets, 10, 9007199254740991]) {
      const messages = offsets.map((offset) => ({ offset, isControlRecord: false }));
      const batch = new Batch('t', fetched, { partition: 0, highWatermark: '2', messages, abortedTransactions: [] });
      expect(batch.messagesWithinOffset.map((m) => m.offset), `fetched ${fetched}`).toEqual(offsets.filter((o) => BigInt(o) >= BigInt(fetched)));
    }
  });
});
