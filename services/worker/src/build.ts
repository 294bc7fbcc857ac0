/**
 * Assembles a worker from its configuration: Kafka and Redis when
 * KAFKA_BROKERS and REDIS_URL are set, otherwise the embedded pair (an
 * in-memory log and state store in this process) behind the same interfaces.
 */
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { StreamcellError } from '@streamcell/protocol';
import { MemoryStateStore, RedisStateStore, type StateStore } from '@streamcell/state';
import { KafkaSink, KafkaSource, MemoryLog, SourceSet, ensureTopics, type Sink, type Source } from '@streamcell/streams';
import { createWorkerMetrics, type Logger, type WorkerMetrics } from '@streamcell/telemetry';
import { DEAD_LETTER_CODES, deadLetterTopic } from '@streamcell/protocol';
import type { WorkerConfig } from './config.ts';
import { ActiveStreams } from './active-streams.ts';
import { ModelRegistry } from './models.ts';
import { Worker } from './worker.ts';

/** A worker and, in embedded mode, the in-memory log it runs on. */
export interface BuiltWorker {
  readonly worker: Worker;
  readonly metrics: WorkerMetrics;
  /** Set in embedded mode: feed events in and read forecasts out through it. */
  readonly memoryLog: MemoryLog | undefined;
  /** Stops the lag gauge refresh. */
  readonly dispose: () => void;
}

/** A stream counts as active for this long after its last event (streamcell_active_streams). */
export const ACTIVE_WINDOW_MS = 5 * 60_000;

/** Every topic the worker reads or writes. */
export function workerTopics(config: WorkerConfig): { topic: string; partitions: number }[] {
  const names = [...config.eventsTopics, config.forecastsTopic, ...config.eventsTopics.map(deadLetterTopic)];
  return names.map((topic) => ({ topic, partitions: config.topicPartitions }));
}

/**
 * Builds (does not start) a worker for `config`. `onFatal` runs when the
 * worker has failed for good after it started (the process should exit 1).
 */
export async function buildWorker(config: WorkerConfig, log: Logger, onFatal: (err: unknown) => void = () => undefined): Promise<BuiltWorker> {
  const metrics = createWorkerMetrics({ deadLetterCodes: DEAD_LETTER_CODES });
  const models = new ModelRegistry({ dir: config.modelsDir, maxBatch: config.maxKernelBatch, log: log.child({ component: 'models' }), metrics });
  const streamsLog = log.child({ component: 'kafka' });
  let source: Source;
  let sink: Sink;
  let store: StateStore;
  let memoryLog: MemoryLog | undefined;

  if (config.kafkaBrokers && config.redisUrl) {
    const clientId = `streamcell-worker-${hostname()}-${process.pid}`;
    if (config.createTopics) {
      const result = await ensureTopics({ brokers: config.kafkaBrokers, clientId, logger: streamsLog }, workerTopics(config));
      if (result.created.length > 0) log.info({ topics: result.created }, 'created topics');
    }
    // KAFKA_CONSUMERS consumers of one group, each with a client id of its own when there are several.
    const brokers = config.kafkaBrokers;
    const consumer = (i: number): KafkaSource => new KafkaSource({
      brokers,
      clientId: config.kafkaConsumers === 1 ? clientId : `${clientId}-${i + 1}`,
      groupId: config.consumerGroup,
      topics: config.eventsTopics,
      fromBeginning: true,
      partitionsConsumedConcurrently: config.partitionsConsumedConcurrently,
      minBytes: config.fetchMinBytes,
      maxWaitTimeInMs: config.fetchMaxWaitMs,
      sessionTimeout: config.sessionTimeoutMs,
      heartbeatInterval: config.heartbeatIntervalMs,
      logger: streamsLog,
      // kafkajs restarts its consumer after most crashes; when it will not,
      // the worker is dead and says so (/healthz 503, exit 1) to be restarted.
      onCrash: (error, restarting) => {
        if (!restarting) void built.worker.fail(error).then(() => onFatal(error));
      },
    });
    const consumers = Array.from({ length: config.kafkaConsumers }, (_, i) => consumer(i));
    source = consumers.length === 1 ? consumers[0]! : new SourceSet(consumers);
    sink = new KafkaSink({ brokers: config.kafkaBrokers, clientId, logger: streamsLog });
    // A command timeout turns a Redis that hangs into an error: the batch is
    // then given back uncommitted instead of waiting forever.
    // Auto-pipelining: the loads and saves of partition batches handled at once share socket writes (see RedisStateStore).
    const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3, commandTimeout: config.redisCommandTimeoutMs, lazyConnect: true, enableAutoPipelining: true });
    redis.on('error', (err: Error) => log.warn({ component: 'redis', err: err.message }, 'redis connection error'));
    try {
      await redis.connect();
    } catch (err) {
      throw new StreamcellError('redis_unavailable', `cannot reach Redis at ${new URL(config.redisUrl).host}: ${(err as Error).message}`, { cause: err });
    }
    store = new RedisStateStore(redis);
  } else {
    memoryLog = new MemoryLog({ topics: workerTopics(config) });
    source = memoryLog.source({
      groupId: config.consumerGroup,
      topics: config.eventsTopics,
      fromBeginning: true,
      partitionsConsumedConcurrently: config.partitionsConsumedConcurrently,
      logger: streamsLog,
    });
    sink = memoryLog.sink();
    store = new MemoryStateStore();
  }

  const activeStreams = new ActiveStreams(ACTIVE_WINDOW_MS);
  const worker = new Worker({ config, source, sink, store, models, metrics, log, activeStreams });
  const built = { worker, metrics, memoryLog, dispose: () => clearInterval(lagTimer) };
  // Lag per partition, refreshed from the source's view after each batch;
  // active streams, pruned to the window.
  const lagTimer = setInterval(() => {
    for (const l of source.lag?.() ?? []) {
      metrics.consumerLag.set({ topic: l.topic, partition: String(l.partition) }, Number(l.lag));
    }
    for (const [model, n] of activeStreams.counts(Date.now())) metrics.activeStreams.set({ model }, n);
  }, 1000);
  lagTimer.unref();
  return built;
}
