import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BulkHistogram } from './bulk-histogram.ts';

/**
 * Every metric the worker exports. Names read `streamcell_<what>_<unit>`;
 * labels are bounded sets (topic, partition, model, code, reason, step,
 * target), never a stream id.
 */
export interface WorkerMetrics {
  readonly registry: Registry;
  readonly eventsIn: Counter<'topic'>;
  readonly forecastsOut: Counter<'model'>;
  readonly deadLetters: Counter<'code'>;
  readonly batchSize: Histogram;
  readonly batchGroupSize: Histogram;
  readonly batchGroupFailures: Counter<'handling'>;
  readonly stepSeconds: Histogram<'model'>;
  readonly stepJobs: Counter<'thread'>;
  readonly redisSeconds: Histogram<'op'>;
  /** Observed a group at a time: {@link BulkHistogram.observeMany}. */
  readonly eventLatencySeconds: BulkHistogram;
  readonly appendLatencySeconds: BulkHistogram;
  readonly stateConflicts: Counter;
  readonly stateResets: Counter<'reason'>;
  readonly replaySkipped: Counter;
  readonly crossPartitionEvents: Counter;
  readonly modelsLoaded: Gauge<'model' | 'version'>;
  readonly modelLoadFailures: Counter<'model'>;
  readonly consumerLag: Gauge<'topic' | 'partition'>;
  readonly forecastAbsError: Counter<'model' | 'step' | 'target'>;
  readonly naiveAbsError: Counter<'model' | 'step' | 'target'>;
  readonly forecastsScored: Counter<'model' | 'step' | 'target'>;
  /**
   * Called whenever the three score counters above are read (a scrape, or
   * get()): lets the worker keep its error sums in plain arrays and add them
   * to the counters only then, not with two dozen labelled increments per batch.
   */
  readonly beforeScoresCollect: Set<() => void>;
  readonly lifecycle: Gauge<'state'>;
  readonly activeStreams: Gauge<'model'>;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Why a stream's state starts afresh: the `reason` label of streamcell_state_resets_total. */
export const STATE_RESET_REASONS = ['reset_flag', 'model_version', 'shape', 'unreadable'] as const;

/**
 * What became of a failed group of several batches: the `handling` label of
 * streamcell_batch_group_failures_total. `given_back`: a failure each batch
 * would meet alone (Redis or Kafka unavailable), all given back at once;
 * `one_by_one`: any other, the batches then went through one by one.
 */
export const BATCH_GROUP_FAILURE_HANDLING = ['given_back', 'one_by_one'] as const;

/**
 * Registers the worker's metrics (and Node's process metrics) on a fresh
 * registry. The labelled counters whose label values are a closed list
 * (reset reasons, and the dead-letter codes when given) start at 0 for every
 * value: Prometheus' rate() and increase() cannot see the first increment
 * of a series that appears already at 1, so a dashboard would miss the
 * first dead letter of each code.
 */
export function createWorkerMetrics(options: { defaultMetrics?: boolean; deadLetterCodes?: readonly string[] } = {}): WorkerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'streamcell_worker_' });
  const registers = [registry];
  const beforeScoresCollect = new Set<() => void>();
  const collectScores = (): void => {
    for (const hook of beforeScoresCollect) hook();
  };
  const metrics: WorkerMetrics = {
    registry,
    eventsIn: new Counter({ name: 'streamcell_events_total', help: 'Events consumed, valid or not', labelNames: ['topic'], registers }),
    forecastsOut: new Counter({ name: 'streamcell_forecasts_total', help: 'Forecasts published', labelNames: ['model'], registers }),
    deadLetters: new Counter({ name: 'streamcell_dead_letters_total', help: 'Events refused, by reason code', labelNames: ['code'], registers }),
    batchSize: new Histogram({
      name: 'streamcell_batch_size_events',
      help: 'Events per partition batch',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
      registers,
    }),
    batchGroupSize: new Histogram({
      name: 'streamcell_batch_group_batches',
      help: 'Partition batches handled together as one group (one state load, one send and one save for all of them)',
      buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64],
      registers,
    }),
    batchGroupFailures: new Counter({
      name: 'streamcell_batch_group_failures_total',
      help: 'Groups of several batches that failed, by handling: given_back (a failure every batch shares, such as Redis unavailable) or one_by_one (the batches went through again each on its own)',
      labelNames: ['handling'],
      registers,
    }),
    stepSeconds: new Histogram({
      name: 'streamcell_step_seconds',
      help: 'Time in the recurrent kernel per step job (one per group of batches and model)',
      labelNames: ['model'],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers,
    }),
    redisSeconds: new Histogram({
      name: 'streamcell_redis_round_trip_seconds',
      help: 'Redis round trips (load = one pipelined read of a group of batches, save = one pipelined compare-and-set)',
      labelNames: ['op'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    }),
    eventLatencySeconds: new BulkHistogram({
      name: 'streamcell_event_to_forecast_seconds',
      help: 'From the event time (ts) to the forecast being acknowledged by Kafka',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    appendLatencySeconds: new BulkHistogram({
      name: 'streamcell_append_to_forecast_seconds',
      help: 'From the Kafka append time of the event to the forecast being acknowledged',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    stepJobs: new Counter({
      name: 'streamcell_step_jobs_total',
      help: 'Step jobs (one per group of batches and model), by the thread that ran them: "step" (the step thread) or "worker"',
      labelNames: ['thread'],
      registers,
    }),
    stateConflicts: new Counter({ name: 'streamcell_state_conflicts_total', help: 'State compare-and-set conflicts (another worker wrote the stream)', registers }),
    stateResets: new Counter({ name: 'streamcell_state_resets_total', help: 'States started afresh, by reason', labelNames: ['reason'], registers }),
    replaySkipped: new Counter({ name: 'streamcell_replayed_events_skipped_total', help: 'Events already in the saved state (redelivered after a crash or rebalance)', registers }),
    crossPartitionEvents: new Counter({
      name: 'streamcell_cross_partition_events_total',
      help: 'Events applied from another topic or partition than the stream last saw (producer not keying by stream)',
      registers,
    }),
    modelsLoaded: new Gauge({ name: 'streamcell_models_loaded', help: 'Models serving, 1 per name and version', labelNames: ['model', 'version'], registers }),
    modelLoadFailures: new Counter({ name: 'streamcell_model_load_failures_total', help: 'Model versions that could not be loaded, once per distinct state of their files (a version fixed in place is retried)', labelNames: ['model'], registers }),
    consumerLag: new Gauge({ name: 'streamcell_consumer_lag_messages', help: 'Messages between the committed offset and the end of the partition', labelNames: ['topic', 'partition'], registers }),
    forecastAbsError: new Counter({
      name: 'streamcell_forecast_abs_error_sum',
      help: 'Sum of |actual - forecast| by model, horizon step and target (divide by streamcell_forecasts_scored_total)',
      labelNames: ['model', 'step', 'target'],
      registers,
      collect: collectScores,
    }),
    naiveAbsError: new Counter({
      name: 'streamcell_naive_abs_error_sum',
      help: 'Sum of |actual - persistence forecast| for the same events (naive baseline)',
      labelNames: ['model', 'step', 'target'],
      registers,
      collect: collectScores,
    }),
    forecastsScored: new Counter({ name: 'streamcell_forecasts_scored_total', help: 'Forecasts scored against their actual', labelNames: ['model', 'step', 'target'], registers, collect: collectScores }),
    beforeScoresCollect,
    lifecycle: new Gauge({ name: 'streamcell_worker_state', help: '1 for the lifecycle state the worker is in', labelNames: ['state'], registers }),
    activeStreams: new Gauge({
      name: 'streamcell_active_streams',
      help: 'Streams this worker stepped in the last 5 minutes, by model (sum over workers: the active streams)',
      labelNames: ['model'],
      registers,
    }),
  };
  for (const reason of STATE_RESET_REASONS) metrics.stateResets.inc({ reason }, 0);
  for (const handling of BATCH_GROUP_FAILURE_HANDLING) metrics.batchGroupFailures.inc({ handling }, 0);
  for (const code of options.deadLetterCodes ?? []) metrics.deadLetters.inc({ code }, 0);
  return metrics;
}

/**
 * Every metric the gateway exports, named `streamcell_gateway_<what>_<unit>`.
 * `route` is the route pattern (`/v1/streams/:id/forecast`), never the URL,
 * so a stream id never becomes a label.
 */
export interface GatewayMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly requestSeconds: Histogram<'method' | 'route'>;
  readonly eventsAccepted: Counter;
  readonly eventsRejected: Counter<'code'>;
  readonly produceSeconds: Histogram;
  readonly forecastsConsumed: Counter;
  readonly liveClients: Gauge;
  readonly liveMessagesSent: Counter;
  readonly liveClientsDropped: Counter<'reason'>;
  readonly liveStreamsTracked: Gauge;
  readonly modelsLoaded: Gauge<'model' | 'version'>;
}

/**
 * Registers the gateway's metrics (and Node's process metrics) on a fresh
 * registry. The refusal counter starts at 0 for each of `refusalCodes`, as
 * the worker's dead-letter counter does, so that rate() and increase() see
 * the first refusal of each code.
 */
export function createGatewayMetrics(options: { defaultMetrics?: boolean; refusalCodes?: readonly string[] } = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'streamcell_gateway_' });
  const registers = [registry];
  const metrics: GatewayMetrics = {
    registry,
    requests: new Counter({ name: 'streamcell_gateway_requests_total', help: 'HTTP requests answered, by method, route pattern and status', labelNames: ['method', 'route', 'status'], registers }),
    requestSeconds: new Histogram({
      name: 'streamcell_gateway_request_seconds',
      help: 'Time to answer an HTTP request (a live stream that opens is counted, not timed; a refused one is timed like any request)',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    eventsAccepted: new Counter({ name: 'streamcell_gateway_events_accepted_total', help: 'Events accepted over HTTP and acknowledged by Kafka', registers }),
    eventsRejected: new Counter({ name: 'streamcell_gateway_events_rejected_total', help: 'Events refused over HTTP, by reason code (nothing produced for them)', labelNames: ['code'], registers }),
    produceSeconds: new Histogram({
      name: 'streamcell_gateway_produce_seconds',
      help: 'From handing a request\'s events to the producer to Kafka\'s acknowledgement',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    forecastsConsumed: new Counter({ name: 'streamcell_gateway_forecasts_consumed_total', help: 'Forecasts read from the forecast topic for the live feed', registers }),
    liveClients: new Gauge({ name: 'streamcell_gateway_live_clients', help: 'Server-sent-event subscribers connected', registers }),
    liveMessagesSent: new Counter({ name: 'streamcell_gateway_live_messages_total', help: 'Forecasts written to live subscribers', registers }),
    liveClientsDropped: new Counter({
      name: 'streamcell_gateway_live_clients_dropped_total',
      help: 'Live subscribers disconnected by the gateway (slow: their buffer filled up; shutdown)',
      labelNames: ['reason'],
      registers,
    }),
    liveStreamsTracked: new Gauge({ name: 'streamcell_gateway_live_streams', help: 'Streams whose recent forecasts the gateway keeps for the live feed', registers }),
    modelsLoaded: new Gauge({ name: 'streamcell_gateway_models_loaded', help: 'Models the gateway validates events against, 1 per name and version', labelNames: ['model', 'version'], registers }),
  };
  for (const code of options.refusalCodes ?? []) metrics.eventsRejected.inc({ code }, 0);
  return metrics;
}
