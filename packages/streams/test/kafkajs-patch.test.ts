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
const Encoder = require('kafkajs/src/protocol/encoder.js') as new (size?: number) => { writeInt32(v: number): unknown; buffer: Buffer };

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

  it('encodes only the bytes written', () => {
    const e = new Encoder();
    e.writeInt32(0x01020304);
    expect([...e.buffer]).toEqual([1, 2, 3, 4]);
  });
});
