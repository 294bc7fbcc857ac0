import { randomBytes } from 'node:crypto';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from '../src/index.ts';

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
    expect(() => partitionForKey('k', 0)).toThrow(RangeError);
  });
});
