/**
 * One replay from settings to summary, shared by the service (main.ts) and
 * `streamcell replay`: open the source, make sure the topic exists, connect
 * a KafkaSink, serve /metrics when a port is set, run, and close it all.
 */
import { hostname } from 'node:os';
import { StreamcellError } from '@streamcell/protocol';
import { KafkaSink, ensureTopics, missingTopics } from '@streamcell/streams';
import { createReplayerMetrics, startHealthServer, type HealthServer, type Logger, type ReplayerMetrics } from '@streamcell/telemetry';
import type { ReplayConfig } from './config.ts';
import { ProgressPrinter } from './progress.ts';
import { Replayer, type ReplaySummary } from './replayer.ts';
import { openSource } from './sources.ts';

/** Where a replay reports. */
export interface ReplayIo {
  /** Progress lines (live on a TTY). */
  readonly progress: NodeJS.WritableStream & { isTTY?: boolean };
  readonly log: Logger;
  /** Called once the replay runs, with a way to stop it (signal handlers). */
  readonly onStart?: (control: { stop: () => void; metricsPort: number | undefined }) => void;
  /** Metrics registry to use (tests read it back); default a fresh one with process metrics. */
  readonly metrics?: ReplayerMetrics;
}

/** Runs the replay `config` describes and resolves with its summary. */
export async function runReplay(config: ReplayConfig, io: ReplayIo): Promise<ReplaySummary> {
  const source = await openSource({
    ...(config.dataset === undefined ? {} : { dataset: config.dataset }),
    ...(config.data === undefined ? {} : { data: config.data }),
    columns: {
      ...(config.features === undefined ? {} : { features: config.features }),
      ...(config.targets === undefined ? {} : { targets: config.targets }),
      ...(config.timeColumn === undefined ? {} : { timeColumn: config.timeColumn }),
      ...(config.groupColumn === undefined ? {} : { groupColumn: config.groupColumn }),
    },
    ...(config.streamPrefix === undefined ? {} : { streamPrefix: config.streamPrefix }),
    ...(config.intervalMs === undefined ? {} : { intervalMs: config.intervalMs }),
    startMs: Date.now(),
    synthetic: {
      streams: config.streams,
      seed: config.seed,
      ...(config.modelDir === undefined ? {} : { modelDir: config.modelDir }),
      ...(config.features === undefined ? {} : { features: config.features }),
    },
  });
  const log = io.log;
  const kafkaLog = log.child({ component: 'kafka' });
  const clientId = `streamcell-replayer-${hostname()}-${process.pid}`;
  if (config.createTopic) {
    const result = await ensureTopics({ brokers: config.brokers, clientId, logger: kafkaLog }, [{ topic: config.topic, partitions: config.partitions }]);
    if (result.created.length > 0) log.info({ topic: config.topic, partitions: config.partitions }, 'created the events topic');
  } else if ((await missingTopics({ brokers: config.brokers, clientId, logger: kafkaLog }, [config.topic])).length > 0) {
    throw new StreamcellError('config_invalid', `Kafka topic ${config.topic} does not exist; create it, or let the replayer create it (drop --no-create-topic / CREATE_TOPICS=false)`);
  }
  const metrics = io.metrics ?? createReplayerMetrics();
  // Bounded retries: a send that keeps failing is counted as an error and
  // dropped, so that the progress line shows the outage instead of stalling.
  // kafkajs warns at every start that bounded retries weaken exactly-once; replay is at-least-once by design, so only its errors are passed on.
  const sink = new KafkaSink({ brokers: config.brokers, clientId, logger: kafkaLog, kafkaLogLevel: 'error', sendRetry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5000 } });
  await sink.connect();
  const replayer = new Replayer({
    settings: config,
    source,
    sink,
    metrics,
    log,
    progress: new ProgressPrinter(io.progress, config.progressIntervalMs),
  });
  let health: HealthServer | undefined;
  let running = true;
  try {
    if (config.metricsPort !== undefined) {
      health = await startHealthServer({
        port: config.metricsPort,
        host: config.metricsHost,
        registry: metrics.registry,
        probe: { healthy: () => true, ready: () => running, details: () => ({ state: running ? 'running' : 'finished' }) },
      });
      log.info({ metricsPort: health.port }, 'serving /metrics');
    }
    io.onStart?.({ stop: () => replayer.stop(), metricsPort: health?.port });
    return await replayer.run();
  } finally {
    running = false;
    await sink.disconnect().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'producer did not disconnect cleanly'));
    await health?.close();
  }
}
