/**
 * The gateway's configuration, from environment variables only, validated at
 * start with one clear line per bad variable. ENV_VARS is the single list:
 * the README table is built from it. Variables the worker also reads carry
 * the same names and defaults, so one compose `environment:` block can feed
 * both and they agree on topics, models, key prefix and TTL.
 */
import { DEFAULT_MAX_EVENT_BYTES } from '@streamcell/protocol';
import { createSettingsReader, envTable as renderEnvTable, type EnvVar } from '@streamcell/telemetry';

export type { EnvVar } from '@streamcell/telemetry';

/** Every variable the gateway reads, in the order the README lists them. */
export const ENV_VARS: readonly EnvVar[] = [
  { name: 'KAFKA_BROKERS', required: true, description: 'Comma-separated Kafka bootstrap servers.' },
  { name: 'REDIS_URL', required: true, description: 'Redis holding the per-stream state the worker writes, e.g. `redis://redis:6379`; read for the latest forecast.' },
  { name: 'MODELS_DIR', required: true, default: 'models', description: 'Folder of models laid out `<name>/<version>/model.json`, the same as the worker\'s: events are checked against them before they are produced.' },
  { name: 'EVENTS_TOPIC', required: false, default: 'events', description: 'Topic that accepted events are produced to (key = stream id).' },
  { name: 'FORECASTS_TOPIC', required: false, default: 'forecasts', description: 'Topic the live feed reads forecasts from.' },
  { name: 'DEFAULT_MODEL', required: false, description: 'As for the worker: model for events that name none and whose topic is not in TOPIC_MODELS. Unset: the only model in MODELS_DIR, when there is exactly one.' },
  { name: 'TOPIC_MODELS', required: false, default: '', description: 'As for the worker: topic-to-model routes, `topic=model,topic=model`.' },
  { name: 'CREATE_TOPICS', required: false, default: 'true', description: 'Create the events and forecasts topics at start when missing.' },
  { name: 'TOPIC_PARTITIONS', required: false, default: '12', description: 'Partitions of topics the gateway creates.' },
  { name: 'STATE_KEY_PREFIX', required: false, default: 'streamcell:', description: 'Prefix of the worker\'s Redis keys (must match the worker\'s).' },
  { name: 'STATE_TTL_SECONDS', required: false, default: '604800', description: 'The worker\'s state TTL (must match): the time since a state was saved is this minus the key\'s remaining TTL.' },
  { name: 'REDIS_COMMAND_TIMEOUT_MS', required: false, default: '5000', description: 'A Redis read without an answer this long fails the request with 503.' },
  { name: 'MAX_EVENT_BYTES', required: false, default: String(DEFAULT_MAX_EVENT_BYTES), description: 'Larger events are refused with `too_large` (as the worker would dead-letter them).' },
  { name: 'BODY_LIMIT_BYTES', required: false, default: '1048576', description: 'Largest request body; a larger one is refused with 413 `too_large`.' },
  { name: 'MAX_BATCH_EVENTS', required: false, default: '1000', description: 'Most events in one `POST /v1/events` batch.' },
  { name: 'PRODUCE_TIMEOUT_MS', required: false, default: '10000', description: 'Longest wait for Kafka to acknowledge a request\'s events before answering 503 (`overloaded` when they were still queued in the gateway and are withdrawn, `kafka_unavailable` when they may have been written).' },
  { name: 'PRODUCE_MAX_PENDING_BYTES', required: false, default: '67108864', description: 'Most event bytes waiting for Kafka at once (including those of requests already answered 503); a request that would go past it is refused at once with 503 `overloaded`, nothing of it written. At least BODY_LIMIT_BYTES.' },
  { name: 'GATEWAY_TOKEN', required: false, description: 'When set, every `/v1/` request needs `Authorization: Bearer <token>`. The page, `/healthz`, `/metrics` and `/openapi.json` stay open.' },
  { name: 'LIVE_RECENT_STREAMS', required: false, default: '1000', description: 'Streams the live feed remembers (most recently seen first), for the page\'s list and for a new subscriber\'s backlog.' },
  { name: 'LIVE_HISTORY', required: false, default: '200', description: 'Recent forecasts kept per remembered stream and sent to a new subscriber first.' },
  { name: 'LIVE_CLIENT_BUFFER', required: false, default: '256', description: 'Forecasts queued for one slow subscriber before it is dropped (it reconnects; nobody else waits for it).' },
  { name: 'LIVE_MAX_CLIENTS', required: false, default: '1000', description: 'Most live subscribers at once; more are refused with 503.' },
  { name: 'LIVE_KEEPALIVE_MS', required: false, default: '15000', description: 'Gap between keep-alive comments on idle live streams (keeps proxies from closing them).' },
  { name: 'MODEL_POLL_MS', required: false, default: '5000', description: 'How often MODELS_DIR is scanned for new versions.' },
  { name: 'PORT', required: false, default: '8080', description: 'HTTP port of the API, the page, `/metrics` and `/healthz` (0: any free port).' },
  { name: 'HOST', required: false, default: '0.0.0.0', description: 'Address the HTTP server binds.' },
  { name: 'DRAIN_TIMEOUT_MS', required: false, default: '10000', description: 'On SIGTERM/SIGINT: longest wait for requests in flight before the connections are closed.' },
  { name: 'LOG_LEVEL', required: false, default: 'info', description: 'pino level: fatal, error, warn, info, debug, trace.' },
];

/** Validated settings. */
export interface GatewayConfig {
  readonly kafkaBrokers: readonly string[];
  readonly redisUrl: string;
  readonly modelsDir: string;
  readonly eventsTopic: string;
  readonly forecastsTopic: string;
  readonly defaultModel: string | undefined;
  readonly topicModels: ReadonlyMap<string, string>;
  readonly createTopics: boolean;
  readonly topicPartitions: number;
  readonly stateKeyPrefix: string;
  readonly stateTtlMs: number;
  readonly redisCommandTimeoutMs: number;
  readonly maxEventBytes: number;
  readonly bodyLimitBytes: number;
  readonly maxBatchEvents: number;
  readonly produceTimeoutMs: number;
  /** Most event bytes waiting for Kafka at once; see PRODUCE_MAX_PENDING_BYTES. */
  readonly producePendingBytes: number;
  /** Undefined: no authentication. */
  readonly token: string | undefined;
  readonly liveRecentStreams: number;
  readonly liveHistory: number;
  readonly liveClientBuffer: number;
  readonly liveMaxClients: number;
  readonly liveKeepaliveMs: number;
  readonly modelPollMs: number;
  readonly port: number;
  readonly host: string;
  readonly drainTimeoutMs: number;
  readonly logLevel: string;
}

/**
 * Reads and validates the configuration. Throws one `config_invalid` error
 * whose message has one line per bad variable, so an operator fixes all of
 * them in one go.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): GatewayConfig {
  const s = createSettingsReader(env, ENV_VARS);
  const brokers = s.brokers({ required: true });
  const redisUrl = s.redisUrl({ required: true }) ?? '';
  const topicModels = s.topicModels();
  const eventsTopic = s.topic('EVENTS_TOPIC');
  const forecastsTopic = s.topic('FORECASTS_TOPIC');
  if (eventsTopic === forecastsTopic) s.problem(`FORECASTS_TOPIC=${forecastsTopic}: must differ from EVENTS_TOPIC`);
  const createTopics = s.oneOf('CREATE_TOPICS', ['true', 'false'] as const) === 'true';
  const token = env.GATEWAY_TOKEN;
  // A token with spaces or control characters cannot travel in a Bearer header.
  if (token !== undefined && token !== '' && !/^[\x21-\x7e]{16,}$/.test(token)) {
    s.problem('GATEWAY_TOKEN: must be at least 16 printable ASCII characters without spaces (value not shown)');
  }
  const logLevel = s.logLevel();
  const maxEventBytes = s.int('MAX_EVENT_BYTES', 64, 16 * 1024 * 1024);
  const bodyLimitBytes = s.int('BODY_LIMIT_BYTES', 1024, 64 * 1024 * 1024);
  if (bodyLimitBytes < maxEventBytes) s.problem(`BODY_LIMIT_BYTES=${bodyLimitBytes}: must be at least MAX_EVENT_BYTES (${maxEventBytes})`);
  const producePendingBytes = s.int('PRODUCE_MAX_PENDING_BYTES', 1024, 2 ** 40);
  if (producePendingBytes < bodyLimitBytes) s.problem(`PRODUCE_MAX_PENDING_BYTES=${producePendingBytes}: must be at least BODY_LIMIT_BYTES (${bodyLimitBytes}), or a full request could never be taken`);

  const config: GatewayConfig = {
    kafkaBrokers: brokers,
    redisUrl,
    modelsDir: s.text('MODELS_DIR')!,
    eventsTopic,
    forecastsTopic,
    defaultModel: s.text('DEFAULT_MODEL'),
    topicModels,
    createTopics,
    topicPartitions: s.int('TOPIC_PARTITIONS', 1, 10_000),
    stateKeyPrefix: s.text('STATE_KEY_PREFIX')!,
    stateTtlMs: s.int('STATE_TTL_SECONDS', 1, 10 * 365 * 86_400) * 1000,
    redisCommandTimeoutMs: s.int('REDIS_COMMAND_TIMEOUT_MS', 10, 600_000),
    maxEventBytes,
    bodyLimitBytes,
    maxBatchEvents: s.int('MAX_BATCH_EVENTS', 1, 100_000),
    produceTimeoutMs: s.int('PRODUCE_TIMEOUT_MS', 100, 600_000),
    producePendingBytes,
    token: token === undefined || token === '' ? undefined : token,
    liveRecentStreams: s.int('LIVE_RECENT_STREAMS', 1, 1_000_000),
    liveHistory: s.int('LIVE_HISTORY', 1, 100_000),
    liveClientBuffer: s.int('LIVE_CLIENT_BUFFER', 1, 1_000_000),
    liveMaxClients: s.int('LIVE_MAX_CLIENTS', 1, 1_000_000),
    liveKeepaliveMs: s.int('LIVE_KEEPALIVE_MS', 100, 3_600_000),
    modelPollMs: s.int('MODEL_POLL_MS', 100, 3_600_000),
    port: s.int('PORT', 0, 65_535),
    host: s.text('HOST')!,
    drainTimeoutMs: s.int('DRAIN_TIMEOUT_MS', 100, 600_000),
    logLevel,
  };
  s.throwIfProblems();
  return config;
}

/** The configuration as logged at start: the token never, URL passwords hidden. */
export function describeConfig(config: GatewayConfig, redact: (url: string) => string): Record<string, unknown> {
  const { token, ...rest } = config;
  return {
    ...rest,
    auth: token === undefined ? 'none' : 'bearer token',
    redisUrl: redact(config.redisUrl),
    topicModels: Object.fromEntries(config.topicModels),
  };
}

/**
 * The README's table of the gateway's variables, built from ENV_VARS so the
 * two cannot drift: `node -e "import('./services/gateway/src/config.ts').then(m => console.log(m.envTable()))"`.
 */
export function envTable(): string {
  return renderEnvTable(ENV_VARS);
}
