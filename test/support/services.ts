/**
 * What an integration test needs from the real services: connection settings
 * from the global setup, a fresh namespace, and cleanup of what it made. Redis
 * on the development machines is shared, so every key a test writes carries
 * its namespace and is deleted afterwards.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Kafka, logLevel, Partitioners, type Admin } from 'kafkajs';
import { inject } from 'vitest';

/** A per-test namespace: topic names and Redis keys start with it. */
export interface TestEnv {
  readonly ns: string;
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly redis: Redis;
  readonly brokers: string[];
  readonly redisUrl: string;
  /** A topic name inside this namespace. */
  topic(name: string): string;
  /** A Redis key prefix inside this namespace. */
  readonly keyPrefix: string;
  createTopic(name: string, partitions: number): Promise<string>;
  /** Deletes this namespace's topics and Redis keys, and closes the clients. */
  cleanup(): Promise<void>;
}

/** Opens clients against the services the global setup provided. */
export async function openTestEnv(): Promise<TestEnv> {
  const brokers = inject('kafkaBrokers');
  const redisUrl = inject('redisUrl');
  const ns = `test-${randomUUID()}`;
  const kafka = new Kafka({ clientId: ns, brokers, logLevel: logLevel.WARN });
  const admin = kafka.admin();
  await admin.connect();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  const topics: string[] = [];
  const keyPrefix = `${ns}:`;

  return {
    ns,
    kafka,
    admin,
    redis,
    brokers,
    redisUrl,
    keyPrefix,
    topic: (name) => `${ns}.${name}`,
    async createTopic(name, partitions) {
      const topic = `${ns}.${name}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
      topics.push(topic);
      return topic;
    },
    async cleanup() {
      try {
        if (topics.length > 0) await admin.deleteTopics({ topics });
        await deleteKeys(redis, `${keyPrefix}*`);
      } finally {
        await admin.disconnect();
        redis.disconnect();
      }
    },
  };
}

/** Deletes every key matching `pattern` with SCAN, never KEYS (Redis is shared). */
export async function deleteKeys(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** kafkajs' Java-compatible partitioner, named explicitly so that other clients agree on placement. */
export const javaCompatiblePartitioner = Partitioners.DefaultPartitioner;
