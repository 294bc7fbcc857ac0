import { randomBytes } from 'node:crypto';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createMurmur2Partitioner, murmur2, partitionForKey } from '../src/index.ts';

describe('murmur2', () => {
  it("matches the Java client's Utils.murmur2 on Kafka's own test vectors", () => {
    // From Kafka's UtilsTest.testMurmur2 (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java).
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [input, hash] of vectors) expect(murmur2(Buffer.from(input)), input).toBe(hash);
  });

  it('hashes bytes inside a larger buffer as those bytes alone', () => {
    const buf = randomBytes(300);
    for (const start of [0, 1, 2, 3, 5, 100]) {
      for (const length of [0, 1, 2, 3, 4, 5, 8, 63, 150]) {
        expect(murmur2(buf, length, start), `${start}+${length}`).toBe(murmur2(Buffer.from(buf.subarray(start, start + length))));
      }
      // Without a length: to the end.
      expect(murmur2(buf, undefined, start)).toBe(murmur2(Buffer.from(buf.subarray(start))));
    }
    expect(() => murmur2(buf, 10, 295)).toThrow(RangeError);
  });

  it("puts keys on the same partitions as kafkajs' DefaultPartitioner, for every tail length and partition count", () => {
    const kafkajsPartition = Partitioners.DefaultPartitioner();
    for (const count of [1, 2, 3, 6, 7, 12, 64, 1000]) {
      const partitionMetadata: PartitionMetadata[] = Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] }));
      for (let i = 0; i < 400; i++) {
        const key = i % 2 === 0 ? `sensor-${i}-${'x'.repeat(i % 9)}` : randomBytes(i % 37);
        const expected = kafkajsPartition({ topic: 't', partitionMetadata, message: { key, value: null } });
        expect(partitionForKey(key, count), `${String(key)} / ${count}`).toBe(expected);
      }
    }
  });

  it('hashes string keys as UTF-8', () => {
    expect(partitionForKey('capteur-é', 10)).toBe(partitionForKey(Buffer.from('capteur-é', 'utf8'), 10));
    // Longer than the reused key buffer first holds; then short again; a lone surrogate as UTF-8 encodes it.
    for (const key of ['é😀x'.repeat(900), 'k', 'lone\ud800', 'x'.repeat(5000)]) {
      expect(partitionForKey(key, 997), key.slice(0, 12)).toBe(partitionForKey(Buffer.from(key, 'utf8'), 997));
    }
    expect(() => partitionForKey('k', 0)).toThrow(RangeError);
  });
});

describe('createMurmur2Partitioner (what KafkaSink gives kafkajs)', () => {
  const metadata = (n: number, leaderless: number[] = []): PartitionMetadata[] =>
    Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: leaderless.includes(partitionId) ? -1 : 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));

  it("picks the partition kafkajs' DefaultPartitioner picks, for string and Buffer keys", () => {
    const ours = createMurmur2Partitioner()();
    const theirs = Partitioners.DefaultPartitioner();
    let seed = 3;
    for (let i = 0; i < 3000; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      const length = seed % 40;
      const text = Array.from({ length }, (_, j) => String.fromCodePoint(32 + ((seed >>> (j % 24)) % 900))).join('');
      const key = i % 2 === 0 ? text : Buffer.from(text);
      const partitionMetadata = metadata(1 + (seed % 64));
      const message = { key, value: null };
      expect(ours({ topic: 't', partitionMetadata, message }), JSON.stringify(text)).toBe(theirs({ topic: 't', partitionMetadata, message }));
    }
  });

  it('keeps a partition the message names, and sends keyless messages round robin to partitions with a leader', () => {
    const ours = createMurmur2Partitioner()();
    const partitionMetadata = metadata(6, [1, 4]);
    expect(ours({ topic: 't', partitionMetadata, message: { key: 'k', partition: 5 } })).toBe(5);
    const picks = Array.from({ length: 40 }, () => ours({ topic: 't', partitionMetadata, message: { key: null } }));
    expect(new Set(picks)).toEqual(new Set([0, 2, 3, 5]));
    // Consecutive keyless messages go to consecutive available partitions.
    const order = [0, 2, 3, 5];
    for (let i = 1; i < picks.length; i++) expect(order.indexOf(picks[i]!)).toBe((order.indexOf(picks[i - 1]!) + 1) % 4);
  });
});
