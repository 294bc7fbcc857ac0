/*
 * Kafka's default partitioner for keyed records, written from the algorithm
 * (MurmurHash2, 32-bit, seed 0x9747b28c, as in the Java client's
 * Utils.murmur2): partition = (murmur2(keyBytes) & 0x7fffffff) % partitions.
 * The in-memory log uses it so that a stream lands on the same partition
 * number as it would on Kafka with the same partition count, whichever client
 * produced it (Java, librdkafka's murmur2_random, kafkajs' DefaultPartitioner),
 * and KafkaSink hands it to kafkajs ({@link createMurmur2Partitioner}).
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** MurmurHash2 of `length` bytes of `data` from `start` (default: all of it) as the Java client computes it: a signed 32-bit integer. */
export function murmur2(data: Uint8Array, length?: number, start = 0): number {
  if (length === undefined) length = data.length - start;
  if (start < 0 || length < 0 || start + length > data.length) throw new RangeError(`murmur2 of ${length} bytes from ${start} is outside ${data.length} bytes`);
  let h = (SEED ^ length) | 0;
  const whole = start + (length & ~3);
  for (let i = start; i < whole; i += 4) {
    // Little-endian 4-byte words, as Java reads them.
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  // The tail mixes in the remaining 1-3 bytes, highest first (Java's switch fall-through).
  const rest = length & 3;
  if (rest === 3) h ^= data[whole + 2]! << 16;
  if (rest >= 2) h ^= data[whole + 1]! << 8;
  if (rest >= 1) {
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition Kafka's default partitioner picks for `key` among
 * `partitions`. String keys are hashed as their UTF-8 bytes, as kafkajs and the
 * Java client's StringSerializer do.
 */
export function partitionForKey(key: Buffer | Uint8Array | string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partition count must be a positive integer, got ${partitions}`);
  if (typeof key !== 'string') return (murmur2(key) & 0x7fffffff) % partitions;
  // UTF-8 takes at most 3 bytes per UTF-16 unit; the bytes go to a reused buffer, not a new one per key.
  if (keyBytes.length < 3 * key.length) keyBytes = Buffer.allocUnsafeSlow(Math.max(3 * key.length, 2 * keyBytes.length));
  const length = keyBytes.write(key, 0, 'utf8');
  return (murmur2(keyBytes, length) & 0x7fffffff) % partitions;
}

let keyBytes = Buffer.allocUnsafeSlow(1024);

/** What kafkajs hands a partitioner (the parts used here). */
interface PartitionerArgs {
  readonly topic: string;
  readonly partitionMetadata: readonly { readonly partitionId: number; readonly leader: number }[];
  readonly message: { readonly key?: Buffer | string | null; readonly partition?: number | null };
}

/**
 * A kafkajs partitioner that picks what kafkajs' DefaultPartitioner picks:
 * the message's own partition if it names one, else the murmur2 partition of
 * its key, else round robin over the partitions that have a leader, from a
 * random start per topic. The difference is the cost: kafkajs computes
 * murmur2 with 64-bit Long objects, several allocations per byte group; this
 * one with 32-bit integer arithmetic ({@link murmur2}).
 */
export function createMurmur2Partitioner(): () => (args: PartitionerArgs) => number {
  return () => {
    const counters = new Map<string, number>();
    return ({ topic, partitionMetadata, message }) => {
      if (message.partition !== null && message.partition !== undefined) return message.partition;
      const numPartitions = partitionMetadata.length;
      if (message.key !== null && message.key !== undefined) return partitionForKey(message.key, numPartitions);
      const next = ((counters.get(topic) ?? Math.floor(Math.random() * 2 ** 31)) + 1) & 0x7fffffff;
      counters.set(topic, next);
      const available = partitionMetadata.filter((p) => p.leader >= 0);
      return available.length > 0 ? available[next % available.length]!.partitionId : next % numPartitions;
    };
  };
}
