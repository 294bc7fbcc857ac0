/**
 * The gateway process: the HTTP app wired to Kafka and Redis.
 *
 *   starting -> running -> draining -> stopped
 *          \________________________\-> failed
 *
 * `starting`: topics ensured, models loaded, producer connected, the live
 * feed joining, the server listening (so /healthz answers). `running`:
 * /readyz is 200 once the live feed holds its partitions. `draining`
 * (SIGTERM/SIGINT or stop()): live subscribers are ended, the server stops
 * taking requests and finishes those in flight within DRAIN_TIMEOUT_MS, then
 * the feed leaves its group and the producer and Redis disconnect.
 * `failed`: the feed's consumer died for good; /healthz turns 503.
 */
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { ModelCatalog } from '@streamcell/model';
import { StreamcellError } from '@streamcell/protocol';
import { KafkaSink, ensureTopics, type Sink } from '@streamcell/streams';
import { createGatewayMetrics, type GatewayMetrics, type Logger } from '@streamcell/telemetry';
import { buildApp } from './app.ts';
import type { GatewayConfig } from './config.ts';
import { settleWithin } from './deadline.ts';
import { ForecastFeed } from './feed.ts';
import { REFUSAL_CODES } from './ingest.ts';
import { RedisStateReader, type StateReader } from './latest.ts';
import { LiveHub } from './live.ts';
import { gatewayCatalog, type GatewayModel } from './models.ts';

/** The live hub with the configured bounds, counted in the gateway's metrics. */
export function createLiveHub(
  config: Pick<GatewayConfig, 'liveRecentStreams' | 'liveHistory' | 'liveClientBuffer' | 'liveMaxClients'>,
  metrics: GatewayMetrics,
  log: Logger,
): LiveHub {
  const liveLog = log.child({ component: 'live' });
  return new LiveHub({
    recentStreams: config.liveRecentStreams,
    history: config.liveHistory,
    clientBuffer: config.liveClientBuffer,
    maxClients: config.liveMaxClients,
    onSent: (n) => metrics.liveMessagesSent.inc(n),
    onDropped: (reason) => {
      metrics.liveClientsDropped.inc({ reason });
      if (reason === 'slow') liveLog.info('live subscriber dropped: it fell too far behind');
    },
    onClients: (n) => metrics.liveClients.set(n),
    onStreams: (n) => metrics.liveStreamsTracked.set(n),
  });
}

/** Lifecycle states, in order. */
export const GATEWAY_STATES = ['starting', 'running', 'draining', 'stopped', 'failed'] as const;
export type GatewayState = (typeof GATEWAY_STATES)[number];

/** A gateway on Kafka and Redis; build with {@link Gateway.create}, then `start`. */
export class Gateway {
  readonly config: GatewayConfig;
  readonly metrics: GatewayMetrics;
  readonly hub: LiveHub;
  readonly #log: Logger;
  readonly #models: ModelCatalog<GatewayModel>;
  readonly #sink: Sink;
  readonly #state: StateReader;
  readonly #feed: ForecastFeed;
  readonly #app: FastifyInstance;
  readonly #keepalive: NodeJS.Timeout;
  #lifecycle: GatewayState = 'starting';
  #stopping: Promise<void> | undefined;
  #port = 0;

  private constructor(parts: {
    config: GatewayConfig;
    metrics: GatewayMetrics;
    hub: LiveHub;
    log: Logger;
    models: ModelCatalog<GatewayModel>;
    sink: Sink;
    state: StateReader;
    feed: ForecastFeed;
    app: FastifyInstance;
  }) {
    this.config = parts.config;
    this.metrics = parts.metrics;
    this.hub = parts.hub;
    this.#log = parts.log.child({ component: 'gateway' });
    this.#models = parts.models;
    this.#sink = parts.sink;
    this.#state = parts.state;
    this.#feed = parts.feed;
    this.#app = parts.app;
    this.#keepalive = setInterval(() => this.hub.keepalive(), parts.config.liveKeepaliveMs);
    this.#keepalive.unref();
  }

  /**
   * Builds a gateway for `config` (connects nothing yet). `onFatal` runs
   * when it has failed for good after it started (the process should exit 1).
   */
  static async create(config: GatewayConfig, log: Logger, onFatal: (err: unknown) => void = () => undefined): Promise<Gateway> {
    const metrics = createGatewayMetrics({ refusalCodes: REFUSAL_CODES });
    const kafkaLog = log.child({ component: 'kafka' });
    const hub = createLiveHub(config, metrics, log);
    const models = gatewayCatalog(config.modelsDir, log.child({ component: 'models' }), metrics);
    const sink = new KafkaSink({
      brokers: config.kafkaBrokers,
      clientId: `streamcell-gateway-${hostname()}-${process.pid}`,
      logger: kafkaLog,
      // Bounded: an HTTP caller waits PRODUCE_TIMEOUT_MS at most, so retrying for ever helps nobody.
      sendRetry: { retries: 5, maxRetryTime: config.produceTimeoutMs },
    });
    const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, commandTimeout: config.redisCommandTimeoutMs, lazyConnect: true });
    redis.on('error', (err: Error) => log.warn({ component: 'redis', err: err.message }, 'redis connection error'));
    const state = new RedisStateReader(redis);
    // The feed is built before the gateway that owns it; its fatal handler finds the gateway here.
    const owner: { gateway?: Gateway } = {};
    const feed = new ForecastFeed({
      brokers: config.kafkaBrokers,
      topic: config.forecastsTopic,
      logger: kafkaLog,
      onForecast: (f) => {
        metrics.forecastsConsumed.inc();
        hub.publish(f);
      },
      onSkipped: (reason) => log.debug({ component: 'live', reason }, 'skipped a message on the forecast topic'),
      onFatal: (err) => {
        void owner.gateway?.fail(err).then(() => onFatal(err));
      },
    });
    let lifecycle: () => GatewayState = () => 'starting';
    const app = await buildApp({
      config,
      models: () => models.snapshot(),
      sink,
      state,
      hub,
      metrics,
      log,
      healthy: () => lifecycle() !== 'failed',
      ready: () => lifecycle() === 'running' && feed.joined && models.snapshot().size > 0,
      details: () => ({ state: lifecycle(), liveFeedJoined: feed.joined, models: [...models.snapshot().values()].map((m) => `${m.name}/${m.version}`), liveClients: hub.clients }),
    });
    const gateway = new Gateway({ config, metrics, hub, log, models, sink, state, feed, app });
    owner.gateway = gateway;
    lifecycle = () => gateway.state;
    try {
      await redis.connect();
    } catch (err) {
      throw new StreamcellError('redis_unavailable', `cannot reach Redis at ${new URL(config.redisUrl).host}: ${(err as Error).message}`, { cause: err });
    }
    return gateway;
  }

  get state(): GatewayState {
    return this.#lifecycle;
  }

  /** The port the server listens on, once started. */
  get port(): number {
    return this.#port;
  }

  /** Starts everything; resolves once the server listens and the feed runs. Rejects (state failed) when a part cannot start. */
  async start(): Promise<void> {
    const { config } = this;
    try {
      if (config.createTopics) {
        const result = await ensureTopics(
          { brokers: config.kafkaBrokers, clientId: `streamcell-gateway-${hostname()}-${process.pid}`, logger: this.#log },
          [config.eventsTopic, config.forecastsTopic].map((topic) => ({ topic, partitions: config.topicPartitions })),
        );
        if (result.created.length > 0) this.#log.info({ topics: result.created }, 'created topics');
      }
      await this.#models.start(config.modelPollMs);
      if (this.#models.snapshot().size === 0) this.#log.warn({ dir: config.modelsDir }, 'no model loaded yet; every event is refused (unknown_model) until one appears');
      await this.#sink.connect();
      await this.#feed.start();
      await this.#app.listen({ port: config.port, host: config.host });
      const address = this.#app.server.address();
      this.#port = typeof address === 'object' && address !== null ? address.port : config.port;
      this.#lifecycle = 'running';
      this.#log.info({ port: this.#port, eventsTopic: config.eventsTopic, forecastsTopic: config.forecastsTopic, liveGroup: this.#feed.groupId }, 'gateway running');
    } catch (err) {
      this.#lifecycle = 'failed';
      this.#log.error({ err: (err as Error).message }, 'gateway failed to start');
      await this.#closeParts();
      throw err;
    }
  }

  /** Marks the gateway failed (the live feed died) and stops it. */
  async fail(err: unknown): Promise<void> {
    this.#log.error({ err: (err as Error)?.message ?? String(err) }, 'gateway failed');
    this.#lifecycle = 'failed';
    await this.#closeParts();
  }

  /** Drains: end live streams, finish requests in flight, disconnect. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#drain();
    return this.#stopping;
  }

  async #drain(): Promise<void> {
    if (this.#lifecycle === 'stopped' || this.#lifecycle === 'failed') return;
    this.#lifecycle = 'draining';
    this.#log.info({ timeoutMs: this.config.drainTimeoutMs }, 'draining');
    await this.#closeParts();
    this.#lifecycle = 'stopped';
    this.#log.info('stopped');
  }

  async #closeParts(): Promise<void> {
    clearInterval(this.#keepalive);
    this.#models.stop();
    // Live responses never end by themselves; end them so that close() can finish.
    this.hub.close();
    const closed = await settleWithin(this.#app.close(), this.config.drainTimeoutMs);
    if (!closed.done) {
      this.#log.warn({ timeoutMs: this.config.drainTimeoutMs }, 'requests still in flight at the drain timeout; closing their connections');
      this.#app.server.closeAllConnections();
    }
    const results = await Promise.allSettled([this.#feed.stop(), this.#sink.disconnect(), this.#state.close()]);
    for (const r of results) if (r.status === 'rejected') this.#log.warn({ err: String(r.reason) }, 'error while closing');
  }
}
