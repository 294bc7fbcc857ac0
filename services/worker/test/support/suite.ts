/**
 * The set-up every worker integration test shares: a fresh namespace on the
 * real Kafka and Redis, the events, forecasts and dead-letter topics, the
 * wiring of worker processes to them, and cleanup of all of it (workers
 * killed, group, topics and keys deleted).
 */
import { afterAll, beforeAll } from 'vitest';
import { openTestEnv, type TestEnv } from '../../../../test/support/services.ts';
import { artifactsDir, killAll, type WorkerProcess, type WorkerWiring } from './worker-process.ts';

/** What {@link WorkerSuite.wire} made. */
export interface Wired {
  readonly eventsTopic: string;
  readonly forecastsTopic: string;
  readonly dlqTopic: string;
  readonly group: string;
  /** Where the workers' logs go. */
  readonly dir: string;
  readonly wiring: WorkerWiring;
}

/** A describe block's shared set-up; see {@link workerSuite}. */
export interface WorkerSuite {
  /** The test namespace (available from beforeAll on). */
  readonly env: TestEnv;
  /** Every worker the tests start; all are killed after the block. */
  readonly workers: WorkerProcess[];
  /** Creates the topics and the wiring, named after the test. */
  wire(label: string, partitions: number, options?: { dlqPartitions?: number; redisUrl?: string }): Promise<Wired>;
  /** Runs after the workers are killed, before the namespace is cleaned up. */
  onCleanup(fn: () => void | Promise<void>): void;
}

/** Registers beforeAll/afterAll for a describe block and returns its suite. */
export function workerSuite(): WorkerSuite {
  let env: TestEnv | undefined;
  const workers: WorkerProcess[] = [];
  const groups: string[] = [];
  const cleanups: (() => void | Promise<void>)[] = [];
  beforeAll(async () => {
    env = await openTestEnv();
  });
  afterAll(async () => {
    await killAll(workers);
    for (const fn of cleanups) await fn();
    if (groups.length > 0) await env?.admin.deleteGroups(groups).catch(() => {});
    await env?.cleanup();
  });
  const suite: WorkerSuite = {
    get env(): TestEnv {
      if (!env) throw new Error('the suite environment is only there once beforeAll has run');
      return env;
    },
    workers,
    async wire(label, partitions, options = {}) {
      const e = suite.env;
      const eventsTopic = await e.createTopic('events', partitions);
      const forecastsTopic = await e.createTopic('forecasts', partitions);
      const dlqTopic = await e.createTopic('events.dlq', options.dlqPartitions ?? 1);
      const group = `${e.ns}-workers`;
      groups.push(group);
      const wiring = { brokers: e.brokers, redisUrl: options.redisUrl ?? e.redisUrl, eventsTopic, forecastsTopic, group, keyPrefix: e.keyPrefix };
      return { eventsTopic, forecastsTopic, dlqTopic, group, dir: artifactsDir(label, e.ns), wiring };
    },
    onCleanup(fn) {
      cleanups.push(fn);
    },
  };
  return suite;
}
