import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';

/** Throws one clear line when no Kafka broker answers at `brokers`. */
export async function checkKafka(brokers: string[], howToStart: string): Promise<void> {
  const admin = new Kafka({
    clientId: 'streamcell-test-check',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 2, initialRetryTime: 300 },
  }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (err) {
    throw new Error(`Kafka is not reachable at ${brokers.join(',')} (${errorText(err)}); ${howToStart}.`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Throws one clear line when Redis does not answer PING at `url`. */
export async function checkRedis(url: string, howToStart: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis is not reachable at ${url} (${errorText(err)}); ${howToStart}.`);
  } finally {
    redis.disconnect();
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
