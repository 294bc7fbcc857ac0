/**
 * The worker process: lifecycle around one BatchPipeline.
 *
 *   starting -> running -> draining -> stopped
 *          \________________________\-> failed
 *
 * `starting`: health server up (so /healthz answers), models loaded,
 * producer connected, consumer joining. `running`: batches flow; /readyz is
 * 200. `draining` (SIGTERM/SIGINT or stop()): the consumer finishes the batch
 * in hand (save, commit) and leaves the group, within DRAIN_TIMEOUT_MS.
 * `failed`: start-up or the consumer failed for good; /healthz turns 503 so
 * an orchestrator restarts the process.
 */
import type { StateStore } from '@streamcell/state';
import type { Sink, Source } from '@streamcell/streams';
import { startHealthServer, type HealthServer, type Logger, type WorkerMetrics } from '@streamcell/telemetry';
import type { ActiveStreams } from './active-streams.ts';
import type { WorkerConfig } from './config.ts';
import type { ModelRegistry } from './models.ts';
import { BatchPipeline } from './pipeline.ts';
import { StepRunner } from './step-runner.ts';

/** Lifecycle states, in order. */
export const WORKER_STATES = ['starting', 'running', 'draining', 'stopped', 'failed'] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

/** What a worker is made of; main.ts picks Kafka + Redis or the embedded pair. */
export interface WorkerParts {
  readonly config: WorkerConfig;
  readonly source: Source;
  readonly sink: Sink;
  readonly store: StateStore;
  readonly models: ModelRegistry;
  readonly metrics: WorkerMetrics;
  readonly log: Logger;
  /** Streams stepped recently, for the active-streams gauge (build.ts refreshes it). */
  readonly activeStreams?: ActiveStreams;
}

/** One worker: consume, step, publish, save, commit. */
export class Worker {
  readonly #p: WorkerParts;
  readonly #log: Logger;
  #state: WorkerState = 'starting';
  #health: HealthServer | undefined;
  #stopping: Promise<void> | undefined;
  readonly #steps: StepRunner;

  constructor(parts: WorkerParts) {
    this.#p = parts;
    this.#log = parts.log.child({ component: 'worker' });
    this.#steps = new StepRunner({
      thread: parts.config.stepThread,
      minThreadEvents: parts.config.stepThreadMinEvents,
      log: parts.log,
      onJob: (thread) => parts.metrics.stepJobs.inc({ thread }),
    });
    this.#setState('starting');
  }

  get state(): WorkerState {
    return this.#state;
  }

  /** Port of the health server, once started. */
  get metricsPort(): number | undefined {
    return this.#health?.port;
  }

  /** Starts everything; resolves once the consumer runs. Rejects (state failed) when a part cannot start. */
  async start(): Promise<void> {
    const { config, source, sink, models, metrics } = this.#p;
    try {
      this.#health = await startHealthServer({
        port: config.metricsPort,
        host: config.metricsHost,
        registry: metrics.registry,
        probe: {
          healthy: () => this.#state !== 'failed',
          ready: () => this.#state === 'running',
          details: () => ({ state: this.#state, models: [...models.snapshot().values()].map((m) => `${m.name}/${m.version}`) }),
        },
      });
      await models.start(config.modelPollMs);
      if (models.snapshot().size === 0) {
        this.#log.warn({ dir: config.modelsDir }, 'no model loaded yet; events will be dead letters (unknown_model) until one appears');
      }
      await sink.connect();
      const pipeline = new BatchPipeline({
        steps: this.#steps,
        store: this.#p.store,
        sink,
        models: () => models.snapshot(),
        metrics,
        log: this.#p.log,
        config,
        ...(this.#p.activeStreams === undefined ? {} : { activeStreams: this.#p.activeStreams }),
      });
      await source.start((batch, control) => pipeline.handle(batch, control));
      this.#setState('running');
      this.#log.info({ metricsPort: this.#health.port, topics: config.eventsTopics }, 'worker running');
    } catch (err) {
      this.#setState('failed');
      this.#log.error({ err: (err as Error).message }, 'worker failed to start');
      await this.#closeParts();
      throw err;
    }
  }

  /** Marks the worker failed (the consumer gave up) and stops it. */
  async fail(err: unknown): Promise<void> {
    this.#log.error({ err: (err as Error)?.message ?? String(err) }, 'worker failed');
    this.#setState('failed');
    await this.#closeParts();
  }

  /** Drains: finish the batch in hand, save, commit, disconnect. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#drain();
    return this.#stopping;
  }

  async #drain(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'failed') return;
    this.#setState('draining');
    const { config } = this.#p;
    this.#log.info({ timeoutMs: config.drainTimeoutMs }, 'draining');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), config.drainTimeoutMs);
    });
    const outcome = await Promise.race([this.#p.source.stop().then(() => 'drained' as const), timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') this.#log.warn({ timeoutMs: config.drainTimeoutMs }, 'drain timed out; what was not committed will be redelivered');
    await this.#closeParts();
    this.#setState('stopped');
    this.#log.info('stopped');
  }

  async #closeParts(): Promise<void> {
    const { models, sink, store } = this.#p;
    models.stop();
    const results = await Promise.allSettled([sink.disconnect(), store.close(), this.#steps.close()]);
    for (const r of results) if (r.status === 'rejected') this.#log.warn({ err: String(r.reason) }, 'error while closing');
    await this.#health?.close();
  }

  #setState(state: WorkerState): void {
    this.#state = state;
    for (const s of WORKER_STATES) this.#p.metrics.lifecycle.set({ state: s }, s === state ? 1 : 0);
  }
}
