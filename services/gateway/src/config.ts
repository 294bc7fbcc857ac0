/**
 * The gateway's configuration, from environment variables only, validated at
 * start with one clear line per bad variable. ENV_VARS is the single list:
 * the README table is built from it. Variables the worker also reads carry
 * the same names and defaults, so one compose `environment:` block can feed
 * both and they agree on topics, models, key prefix and TTL.
 */
import { DEFAULT_MAX_EVENT_BYTES, StreamcellError } from '@streamcell/protocol';

/** One environment variable the gateway reads. */
export interface EnvVar {
  readonly name: string;
  /** Must be set for the gateway to start (in the compose stack). */
  readonly required: boolean;
  readonly default?: string;
  readonly description: string;
}

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
  { name: 'PRODUCE_TIMEOUT_MS', required: false, default: '10000', description: 'Longest wait for Kafka to acknowledge a request\'s events before answering 503.' },
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

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Reads and validates the configuration. Throws one `config_invalid` error
 * whose message has one line per bad variable, so an operator fixes all of
 * them in one go.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): GatewayConfig {
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
  const topic = (name: string): string => {
    const v = raw(name) ?? '';
    if (!TOPIC_NAME.test(v) || v === '.' || v === '..') problems.push(`${name}=${v}: not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)`);
    return v;
  };

  const brokers = list('KAFKA_BROKERS');
  if (brokers.length === 0) problems.push('KAFKA_BROKERS: required (host:port,host:port)');
  for (const b of brokers) {
    if (!/^[^\s:/]+:\d{1,5}$/.test(b)) problems.push(`KAFKA_BROKERS: "${b}" is not host:port`);
  }
  const redisUrl = raw('REDIS_URL') ?? '';
  if (redisUrl === '') problems.push('REDIS_URL: required (redis://host:port)');
  else {
    try {
      const u = new URL(redisUrl);
      if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') problems.push(`REDIS_URL: scheme must be redis:// or rediss://, got ${u.protocol}`);
    } catch {
      problems.push('REDIS_URL: not a URL (expected redis://host:port)');
    }
  }
  const topicModels = new Map<string, string>();
  for (const pair of list('TOPIC_MODELS')) {
    const m = /^([^=\s]+)=([^=\s]+)$/.exec(pair);
    if (!m) problems.push(`TOPIC_MODELS: "${pair}" is not topic=model`);
    else topicModels.set(m[1]!, m[2]!);
  }
  const eventsTopic = topic('EVENTS_TOPIC');
  const forecastsTopic = topic('FORECASTS_TOPIC');
  if (eventsTopic === forecastsTopic) problems.push(`FORECASTS_TOPIC=${forecastsTopic}: must differ from EVENTS_TOPIC`);
  const createTopics = raw('CREATE_TOPICS');
  if (createTopics !== 'true' && createTopics !== 'false') problems.push(`CREATE_TOPICS=${createTopics}: must be one of true, false`);
  const token = env.GATEWAY_TOKEN;
  // A token with spaces or control characters cannot travel in a Bearer header.
  if (token !== undefined && token !== '' && !/^[\x21-\x7e]{16,}$/.test(token)) {
    problems.push('GATEWAY_TOKEN: must be at least 16 printable ASCII characters without spaces (value not shown)');
  }
  const logLevel = raw('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL=${logLevel}: must be one of ${LOG_LEVELS.join(', ')}`);
  const maxEventBytes = int('MAX_EVENT_BYTES', 64, 16 * 1024 * 1024);
  const bodyLimitBytes = int('BODY_LIMIT_BYTES', 1024, 64 * 1024 * 1024);
  if (bodyLimitBytes < maxEventBytes) problems.push(`BODY_LIMIT_BYTES=${bodyLimitBytes}: must be at least MAX_EVENT_BYTES (${maxEventBytes})`);

  const config: GatewayConfig = {
    kafkaBrokers: brokers,
    redisUrl,
    modelsDir: raw('MODELS_DIR')!,
    eventsTopic,
    forecastsTopic,
    defaultModel: raw('DEFAULT_MODEL'),
    topicModels,
    createTopics: createTopics === 'true',
    topicPartitions: int('TOPIC_PARTITIONS', 1, 10_000),
    stateKeyPrefix: raw('STATE_KEY_PREFIX')!,
    stateTtlMs: int('STATE_TTL_SECONDS', 1, 10 * 365 * 86_400) * 1000,
    redisCommandTimeoutMs: int('REDIS_COMMAND_TIMEOUT_MS', 10, 600_000),
    maxEventBytes,
    bodyLimitBytes,
    maxBatchEvents: int('MAX_BATCH_EVENTS', 1, 100_000),
    produceTimeoutMs: int('PRODUCE_TIMEOUT_MS', 100, 600_000),
    token: token === undefined || token === '' ? undefined : token,
    liveRecentStreams: int('LIVE_RECENT_STREAMS', 1, 1_000_000),
    liveHistory: int('LIVE_HISTORY', 1, 100_000),
    liveClientBuffer: int('LIVE_CLIENT_BUFFER', 1, 1_000_000),
    liveMaxClients: int('LIVE_MAX_CLIENTS', 1, 1_000_000),
    liveKeepaliveMs: int('LIVE_KEEPALIVE_MS', 100, 3_600_000),
    modelPollMs: int('MODEL_POLL_MS', 100, 3_600_000),
    port: int('PORT', 0, 65_535),
    host: raw('HOST')!,
    drainTimeoutMs: int('DRAIN_TIMEOUT_MS', 100, 600_000),
    logLevel,
  };
  if (problems.length > 0) {
    throw new StreamcellError('config_invalid', `invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
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
export function envTable(vars: readonly EnvVar[] = ENV_VARS): string {
  const rows = vars.map((v) => `| \`${v.name}\` | ${v.default === undefined ? '' : v.default === '' ? '(empty)' : `\`${v.default}\``} | ${v.description} |`);
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
