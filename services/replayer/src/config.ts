/**
 * The replayer's settings. One table, ENV_VARS, lists every setting with its
 * environment variable (the service in compose reads these) and its flag
 * (`streamcell replay` and `node services/replayer/src/main.ts` take these);
 * a flag wins over its variable. Bad values fail at start with one line per
 * setting.
 */
import { isPlainDecimal } from '@streamcell/datasets';
import { checkBrokers } from '@streamcell/streams';
import { LOG_LEVELS, createSettingsReader, isTopicName, type EnvVar as SettingVar } from '@streamcell/telemetry';
import { DATASET_NAMES } from './sources.ts';

/** How a setting is given. */
export type VarKind = 'string' | 'flag' | 'negated';

/** One setting: environment variable and flag. */
export interface EnvVar extends SettingVar {
  /** Long flag name without the dashes. `negated` flags (`--no-reset`) turn a default-true variable off. */
  readonly flag: string;
  readonly kind: VarKind;
}

/** Every setting, in the order `--help` and the README list them. */
export const ENV_VARS: readonly EnvVar[] = [
  { name: 'KAFKA_BROKERS', flag: 'brokers', kind: 'string', required: true, description: 'Comma-separated Kafka bootstrap servers.' },
  { name: 'EVENTS_TOPIC', flag: 'topic', kind: 'string', required: false, default: 'events', description: 'Topic the events go to (key = stream id).' },
  { name: 'REPLAY_DATASET', flag: 'dataset', kind: 'string', required: false, description: `What to replay: ${DATASET_NAMES.join(', ')}. Or REPLAY_DATA.` },
  { name: 'REPLAY_DATA', flag: 'data', kind: 'string', required: false, description: 'A CSV file with a header row to replay instead of a data set.' },
  { name: 'REPLAY_FEATURES', flag: 'features', kind: 'string', required: false, description: 'Comma-separated columns sent as the event values (CSV: required; synthetic: the feature names when no model is given).' },
  { name: 'REPLAY_TARGETS', flag: 'targets', kind: 'string', required: false, description: 'Accepted as `train` takes it (must be features); replay sends every feature.' },
  { name: 'REPLAY_TIME_COLUMN', flag: 'time-column', kind: 'string', required: false, description: 'Column with each row\'s time (epoch ms or ISO-8601): rows are sent in time order and carry it as ts.' },
  { name: 'REPLAY_GROUP_COLUMN', flag: 'group-column', kind: 'string', required: false, description: 'Column whose values name the streams: one stream per value.' },
  { name: 'REPLAY_STREAM_PREFIX', flag: 'stream-prefix', kind: 'string', required: false, description: 'Stream ids are `<prefix>-<group>` (or `<prefix>` without groups); default the file name, or the data set\'s own ids (sensor-mote-1, stock-sp500, weather-seattle).' },
  { name: 'REPLAY_RATE', flag: 'rate', kind: 'string', required: false, default: '100', description: 'Events per second over all streams.' },
  { name: 'REPLAY_LOOP', flag: 'loop', kind: 'flag', required: false, default: 'false', description: 'Start over at the end; each pass moves the event times past the previous pass, so streams never go back in time.' },
  { name: 'REPLAY_LIMIT', flag: 'limit', kind: 'string', required: false, description: 'Stop after this many events.' },
  { name: 'REPLAY_DURATION_SECONDS', flag: 'duration', kind: 'string', required: false, description: 'Stop after this many seconds.' },
  { name: 'REPLAY_STREAMS', flag: 'streams', kind: 'string', required: false, default: '10', description: 'Synthetic: number of streams (synthetic-0000, ...).' },
  { name: 'REPLAY_SEED', flag: 'seed', kind: 'string', required: false, default: '1', description: 'Synthetic: seed of the signals.' },
  { name: 'REPLAY_MODEL_DIR', flag: 'model', kind: 'string', required: false, description: 'Synthetic: a model version directory (models/weather/1); events carry its features, scaled to its scaler\'s mean and std.' },
  { name: 'REPLAY_EVENT_MODEL', flag: 'event-model', kind: 'string', required: false, description: 'Model name written into every event (`model`); default none (the worker routes by topic or default).' },
  { name: 'REPLAY_INTERVAL_MS', flag: 'interval-ms', kind: 'string', required: false, description: 'Time between a stream\'s rows when the data has no time column (default: the data set\'s own, 1000 otherwise).' },
  { name: 'REPLAY_TIMESTAMPS', flag: 'timestamps', kind: 'string', required: false, default: 'data', description: '`data`: events carry the data\'s times (shifted on each loop pass); `now`: the time of sending.' },
  { name: 'REPLAY_RESET', flag: 'no-reset', kind: 'negated', required: false, default: 'true', description: 'The first event of each stream in a run carries `reset`, so a new run starts the stream\'s state afresh (and may go back in time).' },
  { name: 'CREATE_TOPICS', flag: 'no-create-topic', kind: 'negated', required: false, default: 'true', description: 'Create the events topic when it is missing.' },
  { name: 'TOPIC_PARTITIONS', flag: 'partitions', kind: 'string', required: false, default: '12', description: 'Partitions of a topic the replayer creates.' },
  { name: 'METRICS_PORT', flag: 'metrics-port', kind: 'string', required: false, description: 'Port of /metrics, /healthz, /readyz (0: any free port). The service defaults to 9465; `streamcell replay` serves none unless given.' },
  { name: 'METRICS_HOST', flag: 'metrics-host', kind: 'string', required: false, default: '0.0.0.0', description: 'Address the metrics server binds.' },
  { name: 'PROGRESS_INTERVAL_SECONDS', flag: 'progress-interval', kind: 'string', required: false, default: '10', description: 'Seconds between progress lines when stderr is not a terminal (a terminal gets one live line).' },
  { name: 'LOG_LEVEL', flag: 'log-level', kind: 'string', required: false, default: 'info', description: 'pino level: fatal, error, warn, info, debug, trace, silent (`streamcell replay` logs warn and up unless given).' },
];

/** Validated settings. */
export interface ReplayConfig {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly dataset: string | undefined;
  readonly data: string | undefined;
  readonly features: readonly string[] | undefined;
  readonly targets: readonly string[] | undefined;
  readonly timeColumn: string | undefined;
  readonly groupColumn: string | undefined;
  readonly streamPrefix: string | undefined;
  readonly rate: number;
  readonly loop: boolean;
  readonly limit: number | undefined;
  readonly durationMs: number | undefined;
  readonly streams: number;
  readonly seed: number;
  readonly modelDir: string | undefined;
  readonly eventModel: string | undefined;
  readonly intervalMs: number | undefined;
  readonly timestamps: 'data' | 'now';
  readonly reset: boolean;
  readonly createTopic: boolean;
  readonly partitions: number;
  readonly metricsPort: number | undefined;
  readonly metricsHost: string;
  readonly progressIntervalMs: number;
  readonly logLevel: string;
}

/** Flag values as the CLI parser gives them: strings, or true for flags. */
export type FlagValues = Readonly<Record<string, string | true | undefined>>;

/** The parser spec of every flag in {@link ENV_VARS}, for `parseOptions` and `node:util` parseArgs. */
export function flagSpec(): Record<string, { type: 'string' | 'boolean' }> {
  return Object.fromEntries(ENV_VARS.map((v) => [v.flag, { type: v.kind === 'string' ? 'string' : 'boolean' }]));
}

/**
 * Reads the settings from `flags` (which win) and `env`. `service` picks the
 * defaults that differ: the service serves metrics on 9465 by default, the
 * CLI only when asked. Throws one `usage` error (CLI) or `config_invalid`
 * error (service) with a line per bad setting.
 */
export function loadReplayConfig(flags: FlagValues, env: Readonly<Record<string, string | undefined>>, options: { service: boolean }): ReplayConfig {
  // Flags win; a variable is taken as given (untrimmed), empty meaning its default.
  const reader = createSettingsReader(env, ENV_VARS, {
    read: (v) => {
      const flag = flags[v.flag];
      if (v.kind === 'negated') {
        if (flag === true) return 'false';
      } else if (flag !== undefined) {
        return flag === true ? 'true' : flag;
      }
      const fromEnv = env[v.name];
      return fromEnv === undefined || fromEnv === '' ? v.default : fromEnv;
    },
  });
  const label = (name: string): string => {
    const v = ENV_VARS.find((e) => e.name === name)!;
    return `--${v.flag} (${name})`;
  };
  const text = (name: string): string | undefined => reader.text(name);
  const list = (name: string): string[] | undefined => {
    const v = text(name);
    if (v === undefined) return undefined;
    const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (items.length === 0) reader.problem(`${label(name)}: empty list`);
    return items;
  };
  const number = (name: string, test: (n: number) => boolean, what: string): number | undefined => {
    const v = text(name);
    if (v === undefined) return undefined;
    const n = isPlainDecimal(v.trim()) ? Number(v) : Number.NaN;
    if (!Number.isFinite(n) || !test(n)) {
      reader.problem(`${label(name)}: must be ${what}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return n;
  };
  const bool = (name: string): boolean => {
    const v = text(name);
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0' || v === undefined) return false;
    reader.problem(`${label(name)}: must be true or false, got ${JSON.stringify(v)}`);
    return false;
  };
  const positive = (n: number): boolean => n > 0;
  const positiveInt = (n: number): boolean => Number.isInteger(n) && n > 0;

  const brokersText = text('KAFKA_BROKERS');
  let brokers: string[] = [];
  if (brokersText === undefined) reader.problem(`${label('KAFKA_BROKERS')}: required, e.g. 127.0.0.1:9092`);
  else {
    brokers = brokersText.split(',').map((b) => b.trim()).filter((b) => b !== '');
    try {
      checkBrokers(brokers);
    } catch (err) {
      reader.problem(`${label('KAFKA_BROKERS')}: ${(err as Error).message}`);
    }
  }
  const topic = text('EVENTS_TOPIC')!;
  if (!isTopicName(topic)) reader.problem(`${label('EVENTS_TOPIC')}: invalid Kafka topic name ${JSON.stringify(topic)}`);

  const dataset = text('REPLAY_DATASET');
  const data = text('REPLAY_DATA');
  if (dataset !== undefined && data !== undefined) reader.problem(`${label('REPLAY_DATASET')} and ${label('REPLAY_DATA')}: give one, not both`);
  if (dataset === undefined && data === undefined) reader.problem(`say what to replay: ${label('REPLAY_DATASET')} ${DATASET_NAMES.join('|')}, or ${label('REPLAY_DATA')} FILE.csv`);
  if (dataset !== undefined && !DATASET_NAMES.includes(dataset)) reader.problem(`${label('REPLAY_DATASET')}: unknown data set ${JSON.stringify(dataset)} (known: ${DATASET_NAMES.join(', ')})`);
  const features = list('REPLAY_FEATURES');
  const targets = list('REPLAY_TARGETS');
  const timeColumn = text('REPLAY_TIME_COLUMN');
  const groupColumn = text('REPLAY_GROUP_COLUMN');
  const modelDir = text('REPLAY_MODEL_DIR');
  if (data !== undefined && features === undefined) reader.problem(`${label('REPLAY_FEATURES')}: required with ${label('REPLAY_DATA')} (the CSV columns to send)`);
  if (dataset === 'synthetic') {
    if (modelDir === undefined && features === undefined) reader.problem(`synthetic data needs ${label('REPLAY_MODEL_DIR')} or ${label('REPLAY_FEATURES')}`);
    if (modelDir !== undefined && features !== undefined) reader.problem(`synthetic data takes ${label('REPLAY_MODEL_DIR')} or ${label('REPLAY_FEATURES')}, not both`);
    if (timeColumn !== undefined || groupColumn !== undefined) reader.problem('synthetic data has no columns: drop --time-column and --group-column');
  } else if (modelDir !== undefined) {
    reader.problem(`${label('REPLAY_MODEL_DIR')}: only for --dataset synthetic`);
  }
  if (targets !== undefined && features !== undefined) {
    const stray = targets.filter((t) => !features.includes(t));
    if (stray.length > 0) reader.problem(`${label('REPLAY_TARGETS')}: ${stray.join(', ')} must also be features`);
  }

  const rate = number('REPLAY_RATE', positive, 'a positive number of events per second');
  if (rate !== undefined && rate > 1_000_000) reader.problem(`${label('REPLAY_RATE')}: at most 1000000 events/s`);
  const limit = number('REPLAY_LIMIT', positiveInt, 'a positive integer');
  const duration = number('REPLAY_DURATION_SECONDS', positive, 'a positive number of seconds');
  const streams = number('REPLAY_STREAMS', (n) => positiveInt(n) && n <= 1_000_000, 'an integer from 1 to 1000000');
  const seed = number('REPLAY_SEED', (n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff, 'an integer from 0 to 4294967295');
  const intervalMs = number('REPLAY_INTERVAL_MS', positive, 'a positive number of milliseconds');
  const timestamps = text('REPLAY_TIMESTAMPS')!;
  if (timestamps !== 'data' && timestamps !== 'now') reader.problem(`${label('REPLAY_TIMESTAMPS')}: must be data or now, got ${JSON.stringify(timestamps)}`);
  const eventModel = text('REPLAY_EVENT_MODEL');
  const partitions = number('TOPIC_PARTITIONS', positiveInt, 'a positive integer');
  const metricsPortDefault = options.service ? '9465' : undefined;
  const metricsPort = text('METRICS_PORT') === undefined && metricsPortDefault !== undefined ? Number(metricsPortDefault) : number('METRICS_PORT', (n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'a port from 0 to 65535');
  const progress = number('PROGRESS_INTERVAL_SECONDS', positive, 'a positive number of seconds');
  const logLevel = text('LOG_LEVEL')!;
  if (!LOG_LEVELS.includes(logLevel)) reader.problem(`${label('LOG_LEVEL')}: must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  const loop = bool('REPLAY_LOOP');
  const reset = bool('REPLAY_RESET');
  const createTopic = bool('CREATE_TOPICS');

  reader.throwIfProblems({ code: options.service ? 'config_invalid' : 'usage', heading: 'invalid settings:', bareWhenOne: true });
  return {
    brokers,
    topic,
    dataset,
    data,
    features,
    targets,
    timeColumn,
    groupColumn,
    streamPrefix: text('REPLAY_STREAM_PREFIX'),
    rate: rate!,
    loop,
    limit,
    durationMs: duration === undefined ? undefined : duration * 1000,
    streams: streams!,
    seed: seed!,
    modelDir,
    eventModel,
    intervalMs,
    timestamps: timestamps as 'data' | 'now',
    reset,
    createTopic,
    partitions: partitions!,
    metricsPort,
    metricsHost: text('METRICS_HOST')!,
    progressIntervalMs: progress! * 1000,
    logLevel,
  };
}

/** What the value of a string flag looks like, for the help text (N otherwise). */
const ARG_NAMES: Readonly<Record<string, string>> = {
  brokers: 'HOST:PORT,...',
  topic: 'NAME',
  dataset: 'NAME',
  data: 'FILE',
  features: 'A,B,...',
  targets: 'A,...',
  'time-column': 'COLUMN',
  'group-column': 'COLUMN',
  'stream-prefix': 'PREFIX',
  model: 'DIR',
  'event-model': 'NAME',
  timestamps: 'data|now',
  'metrics-host': 'ADDRESS',
  'log-level': 'LEVEL',
};

/** The help text of the settings: one line per flag with its variable and default. */
export function describeSettings(): string {
  const rows = ENV_VARS.map((v) => {
    const flag = v.kind === 'string' ? `--${v.flag} ${ARG_NAMES[v.flag] ?? 'N'}` : `--${v.flag}`;
    const text = v.kind === 'negated' ? `Turns off: ${v.description.charAt(0).toLowerCase()}${v.description.slice(1)}` : v.description;
    return { flag, text: `${text} [${v.name}${v.default === undefined ? '' : `, default ${v.default}`}]` };
  });
  const width = Math.max(...rows.map((r) => r.flag.length));
  return rows.map((r) => `  ${r.flag.padEnd(width)}  ${r.text}`).join('\n');
}
