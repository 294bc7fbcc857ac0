import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

/**
 * The local kafkajs patch (pnpm-workspace.yaml patchedDependencies) must be
 * applied and must not change what kafkajs computes: the CRC-32C of record
 * batches (the broker rejects a wrong one) and which partition each message
 * goes to, in order.
 */
const require = createRequire(import.meta.url);
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;
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
  it('is applied', () => {
    expect(crc32C.toString()).toContain('slicing-by-8');
    expect(group.toString()).toContain('streamcell patch');
    expect(new Encoder().writeUVarInt.toString()).toContain('streamcell patch');
  });

  it('computes the standard CRC-32C at every length and alignment', () => {
    expect(crc32C(Buffer.from('123456789'))).toBe(0xe3069283);
    for (let n = 0; n < 300; n++) {
      const buf = randomBytes(n + 3).subarray(n % 3);
      expect(crc32C(buf)).toBe(crc32cBitwise(buf));
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

  it('encodes only the bytes written', () => {
    const e = new Encoder();
    e.writeInt32(0x01020304);
    expect([...e.buffer]).toEqual([1, 2, 3, 4]);
  });
});
