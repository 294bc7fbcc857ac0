/**
 * Finds the real Kafka and Redis for the integration tests.
 *
 * 1. KAFKA_BROKERS and REDIS_URL from the environment (./run test and .ci/run
 *    start deploy/local/services.sh and export them);
 * 2. otherwise, when a Docker engine answers, Kafka and Redis containers via
 *    testcontainers;
 * 3. otherwise the run fails with one line that says how to start them.
 * Never a silent skip. Either way the services are checked before any test.
 */
import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { checkKafka, checkRedis } from './support/reachability.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[];
    redisUrl: string;
  }
}

const HOW_TO_START =
  'start them with `bash deploy/local/services.sh up` and export the KAFKA_BROKERS and REDIS_URL it prints, or run `./run test`, which does both';

function dockerAnswers(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
  let redisUrl = process.env.REDIS_URL ?? '';
  let teardown = async (): Promise<void> => {};

  if (brokers.length === 0 || redisUrl === '') {
    if (!dockerAnswers()) {
      throw new Error(`Integration tests need Kafka and Redis: KAFKA_BROKERS/REDIS_URL are not set and no Docker engine answers; ${HOW_TO_START}.`);
    }
    const { KafkaContainer } = await import('@testcontainers/kafka');
    const { RedisContainer } = await import('@testcontainers/redis');
    const [kafka, redis] = await Promise.all([
      new KafkaContainer('apache/kafka:3.9.1').withKraft().start(),
      new RedisContainer('redis:7.4').start(),
    ]);
    brokers = [`${kafka.getHost()}:${kafka.getMappedPort(9093)}`];
    redisUrl = redis.getConnectionUrl();
    teardown = async () => {
      await Promise.all([kafka.stop(), redis.stop()]);
    };
  }

  await checkKafka(brokers, HOW_TO_START);
  await checkRedis(redisUrl, HOW_TO_START);
  project.provide('kafkaBrokers', brokers);
  project.provide('redisUrl', redisUrl);
  return teardown;
}
