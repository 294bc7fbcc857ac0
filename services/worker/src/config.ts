/**
 * The worker's configuration, from environment variables only, validated at
 * start with one clear line per bad variable. ENV_VARS is the single list:
 * the README table and the compose-file check are built from it.
 */
import { createSettingsReader, type EnvVar } from '@streamcell/telemetry';

export type { EnvVar } from '@streamcell/telemetry';

/** Every variable the worker reads, in the order the README lists them. */
export const ENV_VARS: readonly EnvVar[] = [
  { name: 'KAFKA_BROKERS', required: true, description: 'Comma-separated Kafka bootstrap servers. Unset (with REDIS_URL unset too): embedded mode, an in-memory log and state store in one process.' },
  { name: 'REDIS_URL', required: true, description: 'Redis holding the per-stream state, e.g. `redis://redis:6379`. Set together with KAFKA_BROKERS.' },
  { name: 'MODELS_DIR', required: true, default: 'models', description: 'Folder of models laid out `<name>/<version>/model.json`; new versions are picked up without restart.' },
  { name: 'EVENTS_TOPICS', required: false, default: 'events', description: 'Comma-separated topics to consume events from.' },
  { name: 'FORECASTS_TOPIC', required: false, default: 'forecasts', description: 'Topic forecasts are published to (key = stream id). Dead letters go to `<events topic>.dlq`.' },
  { name: 'CONSUMER_GROUP', required: false, default: 'streamcell-worker', description: 'Kafka consumer group; workers in one group share the partitions.' },
  { name: 'KAFKA_SESSION_TIMEOUT_MS', required: false, default: '30000', description: 'Consumer group session timeout: how long a member that stopped heartbeating (killed, hung) keeps its partitions before the group moves them. Within the broker\'s group.min/max.session.timeout.ms.' },
  { name: 'KAFKA_HEARTBEAT_INTERVAL_MS', required: false, default: '3000', description: 'Least gap between the consumer\'s group heartbeats; must be below KAFKA_SESSION_TIMEOUT_MS.' },
  { name: 'DEFAULT_MODEL', required: false, description: 'Model for events that name none and whose topic is not in TOPIC_MODELS. Unset: the only model in MODELS_DIR, when there is exactly one.' },
  { name: 'TOPIC_MODELS', required: false, default: '', description: 'Topic-to-model routes, `topic=model,topic=model`.' },
  { name: 'CREATE_TOPICS', required: false, default: 'true', description: 'Create missing event, forecast and dead-letter topics at start.' },
  { name: 'TOPIC_PARTITIONS', required: false, default: '12', description: 'Partitions of topics the worker creates.' },
  { name: 'OUT_OF_ORDER', required: false, default: 'reject', description: '`reject`: an event older than its stream\'s last event becomes a dead letter `out_of_order`; `accept`: it is applied.' },
  { name: 'STATE_TTL_SECONDS', required: false, default: '604800', description: 'Idle streams\' state expires after this long (refreshed on every write).' },
  { name: 'REDIS_COMMAND_TIMEOUT_MS', required: false, default: '10000', description: 'A Redis command without an answer this long fails; the batch is then redelivered rather than stuck.' },
  { name: 'STATE_KEY_PREFIX', required: false, default: 'streamcell:', description: 'Prefix of every Redis key the worker writes.' },
  { name: 'MAX_EVENT_BYTES', required: false, default: '65536', description: 'Larger events become dead letters `too_large`.' },
  { name: 'DEAD_LETTER_MAX_BYTES', required: false, default: '524288', description: 'Dead letters keep the original bytes up to this length; a longer (too_large) event is cut to it, with header `streamcell-dlq-original-bytes`, so that its dead letter always fits under the broker\'s message limit.' },
  { name: 'MAX_KERNEL_BATCH', required: false, default: '1024', description: 'Most streams stepped in one kernel call.' },
  { name: 'STEP_THREAD', required: false, default: 'true', description: 'Run the kernel, the scoring and the forecast messages of large batches on a second thread, beside the Kafka and Redis clients on the first (about an eighth more events/s when draining a backlog on 2 cores, for a little more CPU per event); smaller batches stay on the first. `false`: one thread for everything. The forecasts are the same either way. The thread holds its own copy of each model (weights and kernel memory). `streamcell_step_jobs_total{thread}` counts step jobs (one per model in a group of batches) by where they ran.' },
  { name: 'STEP_THREAD_MIN_EVENTS', required: false, default: '64', description: 'Least events of one model in a group of batches for them to go to the step thread: below it the hop to the thread and back costs more than it saves.' },
  { name: 'MODEL_POLL_MS', required: false, default: '5000', description: 'How often MODELS_DIR is scanned for new versions.' },
  { name: 'KAFKA_FETCH_MIN_BYTES', required: false, default: '1', description: 'Least data a fetch waits for on the broker (bytes, at most 1048576), up to KAFKA_FETCH_MAX_WAIT_MS. 1 answers as soon as any event is there.' },
  { name: 'KAFKA_FETCH_MAX_WAIT_MS', required: false, default: '1000', description: 'Longest a fetch waits on the broker for KAFKA_FETCH_MIN_BYTES of data (at most 10000, below KAFKA_SESSION_TIMEOUT_MS and DRAIN_TIMEOUT_MS: no heartbeat goes out during a fetch, and a drain waits for it).' },
  { name: 'KAFKA_CONSUMERS', required: false, default: '1', description: 'Kafka consumers in this worker process (with KAFKA_BROKERS; the embedded mode has one), each a member of the consumer group with its own share of the partitions and its own fetches; the pipeline, the Redis client, the producer and the step thread are shared. kafkajs fetches again only when every batch of its last fetch is done: with 2, one consumer fetches while the other\'s batches run, so a worker draining a backlog waits less (docs/benchmarks.md). Each consumer is one more group member, one more connection to the broker and one more fetch loop: with 2, the bench drained a backlog 5-12% faster but spent 8-20% more CPU per event at 5,000 events/s; since each large batch decodes in a turn of its own (so the step thread overlaps the decoding), 2 made no measurable difference to draining.' },
  { name: 'PARTITIONS_CONSUMED_CONCURRENTLY', required: false, default: '12', description: 'Partition batches one worker handles at once, per Kafka consumer (KAFKA_CONSUMERS); small ones that arrive together go through as one group (one Redis load, one send, one save), larger ones overlap their Redis and Kafka round trips and share produce requests (order within a partition is kept). kafkajs fetches again only when every batch of the last fetch is done, so this is best at least the partitions one worker holds.' },
  { name: 'METRICS_PORT', required: false, default: '9464', description: 'Port of `/metrics`, `/healthz` and `/readyz` (0: any free port).' },
  { name: 'METRICS_HOST', required: false, default: '0.0.0.0', description: 'Address the metrics server binds.' },
  { name: 'DRAIN_TIMEOUT_MS', required: false, default: '15000', description: 'On SIGTERM/SIGINT: longest wait for the batch in hand to finish, save and commit.' },
  { name: 'LOG_LEVEL', required: false, default: 'info', description: 'pino level: fatal, error, warn, info, debug, trace.' },
];

/** Validated settings. */
export interface WorkerConfig {
  /** Absent: embedded mode. */
  readonly kafkaBrokers: readonly string[] | undefined;
  readonly redisUrl: string | undefined;
  readonly modelsDir: string;
  readonly eventsTopics: readonly string[];
  readonly forecastsTopic: string;
  readonly consumerGroup: string;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly defaultModel: string | undefined;
  readonly topicModels: ReadonlyMap<string, string>;
  readonly createTopics: boolean;
  readonly topicPartitions: number;
  readonly acceptOutOfOrder: boolean;
  readonly stateTtlMs: number;
  readonly stateKeyPrefix: string;
  readonly redisCommandTimeoutMs: number;
  readonly maxEventBytes: number;
  readonly deadLetterMaxBytes: number;
  readonly maxKernelBatch: number;
  readonly stepThread: boolean;
  readonly stepThreadMinEvents: number;
  readonly modelPollMs: number;
  readonly partitionsConsumedConcurrently: number;
  readonly kafkaConsumers: number;
  readonly fetchMinBytes: number;
  readonly fetchMaxWaitMs: number;
  readonly metricsPort: number;
  readonly metricsHost: string;
  readonly drainTimeoutMs: number;
  readonly logLevel: string;
}

/**
 * Reads and validates the configuration. Throws one `config_invalid` error
 * whose message has one line per bad variable, so an operator fixes all of
 * them in one go.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): WorkerConfig {
  const s = createSettingsReader(env, ENV_VARS);
  const brokers = s.brokers();
  const redisUrl = s.redisUrl();
  if ((brokers.length > 0) !== (redisUrl !== undefined)) {
    s.problem('KAFKA_BROKERS and REDIS_URL: set both (distributed mode) or neither (embedded mode)');
  }

  const topicModels = s.topicModels();
  const eventsTopics = s.list('EVENTS_TOPICS');
  if (eventsTopics.length === 0) s.problem('EVENTS_TOPICS: name at least one topic');
  const forecastsTopic = s.text('FORECASTS_TOPIC') ?? '';
  if (eventsTopics.includes(forecastsTopic)) s.problem(`FORECASTS_TOPIC=${forecastsTopic}: must differ from the events topics`);
  const sessionTimeoutMs = s.int('KAFKA_SESSION_TIMEOUT_MS', 1_000, 3_600_000);
  const heartbeatIntervalMs = s.int('KAFKA_HEARTBEAT_INTERVAL_MS', 100, 3_600_000);
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    s.problem(`KAFKA_HEARTBEAT_INTERVAL_MS=${heartbeatIntervalMs}: must be below KAFKA_SESSION_TIMEOUT_MS (${sessionTimeoutMs})`);
  }
  // kafkajs heartbeats between fetches, and a drain waits for the fetch in flight.
  const fetchMaxWaitMs = s.int('KAFKA_FETCH_MAX_WAIT_MS', 1, 10_000);
  const drainTimeoutMs = s.int('DRAIN_TIMEOUT_MS', 100, 600_000);
  if (fetchMaxWaitMs >= sessionTimeoutMs) s.problem(`KAFKA_FETCH_MAX_WAIT_MS=${fetchMaxWaitMs}: must be below KAFKA_SESSION_TIMEOUT_MS (${sessionTimeoutMs})`);
  if (fetchMaxWaitMs >= drainTimeoutMs) s.problem(`KAFKA_FETCH_MAX_WAIT_MS=${fetchMaxWaitMs}: must be below DRAIN_TIMEOUT_MS (${drainTimeoutMs})`);
  const logLevel = s.logLevel();

  const config: WorkerConfig = {
    kafkaBrokers: brokers.length > 0 ? brokers : undefined,
    redisUrl,
    modelsDir: s.text('MODELS_DIR')!,
    eventsTopics,
    forecastsTopic,
    consumerGroup: s.text('CONSUMER_GROUP')!,
    sessionTimeoutMs,
    heartbeatIntervalMs,
    defaultModel: s.text('DEFAULT_MODEL'),
    topicModels,
    createTopics: s.oneOf('CREATE_TOPICS', ['true', 'false'] as const) === 'true',
    topicPartitions: s.int('TOPIC_PARTITIONS', 1, 10_000),
    acceptOutOfOrder: s.oneOf('OUT_OF_ORDER', ['reject', 'accept'] as const) === 'accept',
    stateTtlMs: s.int('STATE_TTL_SECONDS', 1, 10 * 365 * 86_400) * 1000,
    stateKeyPrefix: s.text('STATE_KEY_PREFIX')!,
    redisCommandTimeoutMs: s.int('REDIS_COMMAND_TIMEOUT_MS', 10, 600_000),
    maxEventBytes: s.int('MAX_EVENT_BYTES', 64, 16 * 1024 * 1024),
    deadLetterMaxBytes: s.int('DEAD_LETTER_MAX_BYTES', 64, 16 * 1024 * 1024),
    maxKernelBatch: s.int('MAX_KERNEL_BATCH', 1, 65_536),
    stepThread: s.oneOf('STEP_THREAD', ['true', 'false'] as const) === 'true',
    stepThreadMinEvents: s.int('STEP_THREAD_MIN_EVENTS', 1, 1_000_000),
    modelPollMs: s.int('MODEL_POLL_MS', 100, 3_600_000),
    partitionsConsumedConcurrently: s.int('PARTITIONS_CONSUMED_CONCURRENTLY', 1, 1024),
    kafkaConsumers: s.int('KAFKA_CONSUMERS', 1, 16),
    fetchMinBytes: s.int('KAFKA_FETCH_MIN_BYTES', 1, 1024 * 1024),
    fetchMaxWaitMs,
    metricsPort: s.int('METRICS_PORT', 0, 65_535),
    metricsHost: s.text('METRICS_HOST')!,
    drainTimeoutMs,
    logLevel,
  };
  s.throwIfProblems();
  return config;
}

/** The configuration as logged at start: secrets in URLs hidden. */
export function describeConfig(config: WorkerConfig, redact: (url: string) => string): Record<string, unknown> {
  return {
    ...config,
    mode: config.kafkaBrokers ? 'distributed' : 'embedded',
    redisUrl: config.redisUrl === undefined ? undefined : redact(config.redisUrl),
    topicModels: Object.fromEntries(config.topicModels),
  };
}
