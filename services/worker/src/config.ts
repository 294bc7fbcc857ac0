/**
 * The worker's configuration, from environment variables only, validated at
 * start with one clear line per bad variable. ENV_VARS is the single list:
 * the README table and the compose-file check are built from it.
 */
import { StreamcellError } from '@streamcell/protocol';

/** One environment variable the worker reads. */
export interface EnvVar {
  readonly name: string;
  /** Must be set for the worker to start (in the compose stack). */
  readonly required: boolean;
  readonly default?: string;
  readonly description: string;
}

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
  { name: 'MODEL_POLL_MS', required: false, default: '5000', description: 'How often MODELS_DIR is scanned for new versions.' },
  { name: 'PARTITIONS_CONSUMED_CONCURRENTLY', required: false, default: '4', description: 'Partition batches one worker handles at once; their Redis and Kafka round trips overlap and their sends share produce requests (order within a partition is kept).' },
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
  readonly modelPollMs: number;
  readonly partitionsConsumedConcurrently: number;
  readonly metricsPort: number;
  readonly metricsHost: string;
  readonly drainTimeoutMs: number;
  readonly logLevel: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Reads and validates the configuration. Throws one `config_invalid` error
 * whose message has one line per bad variable, so an operator fixes all of
 * them in one go.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): WorkerConfig {
  const problems: string[] = [];
  const raw = (name: string): string | undefined => {
    const v = env[name]?.trim();
    if (v !== undefined && v !== '') return v;
    return ENV_VARS.find((e) => e.name === name)?.default;
  };
  const int = (name: string, min: number, max: number): number => {
    const text = raw(name) ?? '';
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max) {
      problems.push(`${name}=${text}: must be a whole number from ${min} to ${max}`);
      return min;
    }
    return n;
  };
  const list = (name: string): string[] => (raw(name) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const oneOf = <T extends string>(name: string, allowed: readonly T[]): T => {
    const v = raw(name) ?? '';
    if (!(allowed as readonly string[]).includes(v)) {
      problems.push(`${name}=${v}: must be one of ${allowed.join(', ')}`);
      return allowed[0]!;
    }
    return v as T;
  };

  const brokers = list('KAFKA_BROKERS');
  for (const b of brokers) {
    if (!/^[^\s:/]+:\d{1,5}$/.test(b)) problems.push(`KAFKA_BROKERS: "${b}" is not host:port`);
  }
  const redisUrl = raw('REDIS_URL');
  if (redisUrl !== undefined) {
    try {
      const u = new URL(redisUrl);
      if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') problems.push(`REDIS_URL: scheme must be redis:// or rediss://, got ${u.protocol}`);
    } catch {
      problems.push('REDIS_URL: not a URL (expected redis://host:port)');
    }
  }
  if ((brokers.length > 0) !== (redisUrl !== undefined)) {
    problems.push('KAFKA_BROKERS and REDIS_URL: set both (distributed mode) or neither (embedded mode)');
  }

  const topicModels = new Map<string, string>();
  for (const pair of list('TOPIC_MODELS')) {
    const m = /^([^=\s]+)=([^=\s]+)$/.exec(pair);
    if (!m) problems.push(`TOPIC_MODELS: "${pair}" is not topic=model`);
    else topicModels.set(m[1]!, m[2]!);
  }
  const eventsTopics = list('EVENTS_TOPICS');
  if (eventsTopics.length === 0) problems.push('EVENTS_TOPICS: name at least one topic');
  const forecastsTopic = raw('FORECASTS_TOPIC') ?? '';
  if (eventsTopics.includes(forecastsTopic)) problems.push(`FORECASTS_TOPIC=${forecastsTopic}: must differ from the events topics`);
  const sessionTimeoutMs = int('KAFKA_SESSION_TIMEOUT_MS', 1_000, 3_600_000);
  const heartbeatIntervalMs = int('KAFKA_HEARTBEAT_INTERVAL_MS', 100, 3_600_000);
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    problems.push(`KAFKA_HEARTBEAT_INTERVAL_MS=${heartbeatIntervalMs}: must be below KAFKA_SESSION_TIMEOUT_MS (${sessionTimeoutMs})`);
  }
  const logLevel = raw('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL=${logLevel}: must be one of ${LOG_LEVELS.join(', ')}`);

  const config: WorkerConfig = {
    kafkaBrokers: brokers.length > 0 ? brokers : undefined,
    redisUrl,
    modelsDir: raw('MODELS_DIR')!,
    eventsTopics,
    forecastsTopic,
    consumerGroup: raw('CONSUMER_GROUP')!,
    sessionTimeoutMs,
    heartbeatIntervalMs,
    defaultModel: raw('DEFAULT_MODEL'),
    topicModels,
    createTopics: oneOf('CREATE_TOPICS', ['true', 'false'] as const) === 'true',
    topicPartitions: int('TOPIC_PARTITIONS', 1, 10_000),
    acceptOutOfOrder: oneOf('OUT_OF_ORDER', ['reject', 'accept'] as const) === 'accept',
    stateTtlMs: int('STATE_TTL_SECONDS', 1, 10 * 365 * 86_400) * 1000,
    stateKeyPrefix: raw('STATE_KEY_PREFIX')!,
    redisCommandTimeoutMs: int('REDIS_COMMAND_TIMEOUT_MS', 10, 600_000),
    maxEventBytes: int('MAX_EVENT_BYTES', 64, 16 * 1024 * 1024),
    deadLetterMaxBytes: int('DEAD_LETTER_MAX_BYTES', 64, 16 * 1024 * 1024),
    maxKernelBatch: int('MAX_KERNEL_BATCH', 1, 65_536),
    modelPollMs: int('MODEL_POLL_MS', 100, 3_600_000),
    partitionsConsumedConcurrently: int('PARTITIONS_CONSUMED_CONCURRENTLY', 1, 1024),
    metricsPort: int('METRICS_PORT', 0, 65_535),
    metricsHost: raw('METRICS_HOST')!,
    drainTimeoutMs: int('DRAIN_TIMEOUT_MS', 100, 600_000),
    logLevel,
  };
  if (problems.length > 0) {
    throw new StreamcellError('config_invalid', `invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
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
