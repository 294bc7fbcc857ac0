/**
 * Reading a service's settings from its environment. Each service keeps its
 * own list of variables (ENV_VARS) and its own config shape; this module
 * reads that list: defaults come from it, every bad value adds one line to
 * the problems, and the problems are thrown together as one error at the end,
 * so an operator fixes all of them in one go rather than one per restart.
 */
import { StreamcellError, type ErrorCode } from '@streamcell/protocol';

/** One environment variable a service reads. */
export interface EnvVar {
  readonly name: string;
  /** Must be set for the service to start (in the compose stack). */
  readonly required: boolean;
  readonly default?: string;
  readonly description: string;
}

/** A process environment, or a test's stand-in for one. */
export type Env = Readonly<Record<string, string | undefined>>;

/** The pino levels a LOG_LEVEL may name. */
export const LOG_LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** How {@link SettingsReader.throwIfProblems} words and classifies the error. */
export interface ProblemsErrorOptions {
  /** Default `config_invalid`; the CLI throws `usage`. */
  readonly code?: ErrorCode;
  /** First line of the message; default `invalid configuration:`. */
  readonly heading?: string;
  /** A single problem is the whole message, without the heading. */
  readonly bareWhenOne?: boolean;
}

/** Typed accessors over one service's variables; each bad value is noted, not thrown. */
export interface SettingsReader {
  /** The value as given (see {@link createSettingsReader}'s `read`), else the variable's default. */
  text(name: string): string | undefined;
  /** A whole number from `min` to `max`; `min` when it is not one. */
  int(name: string, min: number, max: number): number;
  /** A comma-separated list, items trimmed, empty items dropped. */
  list(name: string): string[];
  /** One of `allowed`; the first of them when it is not. */
  oneOf<T extends string>(name: string, allowed: readonly T[]): T;
  /** A Kafka topic name. */
  topic(name: string): string;
  /** KAFKA_BROKERS, each `host:port`; empty when unset, which `required` makes a problem. */
  brokers(options?: { required?: boolean }): string[];
  /** REDIS_URL, a redis:// or rediss:// URL; undefined when unset, which `required` makes a problem. */
  redisUrl(options?: { required?: boolean }): string | undefined;
  /** TOPIC_MODELS, `topic=model,topic=model`. */
  topicModels(): Map<string, string>;
  /** LOG_LEVEL, one of {@link LOG_LEVELS}. */
  logLevel(): string;
  /** Notes a problem the service found itself (a rule across variables, say). */
  problem(line: string): void;
  /** The problems noted so far, in order. */
  readonly problems: readonly string[];
  /** Throws one error listing every problem, one per line, when there are any. */
  throwIfProblems(options?: ProblemsErrorOptions): void;
}

const HOST_PORT = /^[^\s:/]+:\d{1,5}$/;

/** Kafka's own rule for topic names: 1-249 of a-z A-Z 0-9 . _ -, and not `.` or `..`. */
export function isTopicName(name: string): boolean {
  return /^[a-zA-Z0-9._-]{1,249}$/.test(name) && name !== '.' && name !== '..';
}

/**
 * A reader of `vars` from `env`. By default a value is the variable trimmed,
 * and unset or blank means its default; `read` replaces that lookup (the
 * replayer lets flags win over variables). Reading a name that is not in
 * `vars` throws at once: a service reads only what it documents.
 */
export function createSettingsReader<V extends EnvVar>(env: Env, vars: readonly V[], options: { read?: (v: V) => string | undefined } = {}): SettingsReader {
  const problems: string[] = [];
  const byName = new Map(vars.map((v) => [v.name, v]));
  const read =
    options.read ??
    ((v: V): string | undefined => {
      const given = env[v.name]?.trim();
      return given !== undefined && given !== '' ? given : v.default;
    });
  const text = (name: string): string | undefined => {
    const v = byName.get(name);
    if (v === undefined) throw new Error(`setting ${name} is not in the list of variables`);
    return read(v);
  };
  const list = (name: string): string[] => (text(name) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const oneOf = <T extends string>(name: string, allowed: readonly T[]): T => {
    const v = text(name) ?? '';
    if (!(allowed as readonly string[]).includes(v)) {
      problems.push(`${name}=${v}: must be one of ${allowed.join(', ')}`);
      return allowed[0]!;
    }
    return v as T;
  };

  return {
    text,
    list,
    oneOf,
    int(name, min, max) {
      const v = text(name) ?? '';
      const n = Number(v);
      if (!/^\d+$/.test(v) || n < min || n > max) {
        problems.push(`${name}=${v}: must be a whole number from ${min} to ${max}`);
        return min;
      }
      return n;
    },
    topic(name) {
      const v = text(name) ?? '';
      if (!isTopicName(v)) problems.push(`${name}=${v}: not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)`);
      return v;
    },
    brokers({ required = false } = {}) {
      const brokers = list('KAFKA_BROKERS');
      if (required && brokers.length === 0) problems.push('KAFKA_BROKERS: required (host:port,host:port)');
      for (const b of brokers) {
        if (!HOST_PORT.test(b)) problems.push(`KAFKA_BROKERS: "${b}" is not host:port`);
      }
      return brokers;
    },
    redisUrl({ required = false } = {}) {
      const url = text('REDIS_URL');
      if (url === undefined || url === '') {
        if (required) problems.push('REDIS_URL: required (redis://host:port)');
        return undefined;
      }
      try {
        const u = new URL(url);
        if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') problems.push(`REDIS_URL: scheme must be redis:// or rediss://, got ${u.protocol}`);
      } catch {
        problems.push('REDIS_URL: not a URL (expected redis://host:port)');
      }
      return url;
    },
    topicModels() {
      const routes = new Map<string, string>();
      for (const pair of list('TOPIC_MODELS')) {
        const m = /^([^=\s]+)=([^=\s]+)$/.exec(pair);
        if (!m) problems.push(`TOPIC_MODELS: "${pair}" is not topic=model`);
        else routes.set(m[1]!, m[2]!);
      }
      return routes;
    },
    logLevel() {
      const level = text('LOG_LEVEL') ?? 'info';
      if (!LOG_LEVELS.includes(level)) problems.push(`LOG_LEVEL=${level}: must be one of ${LOG_LEVELS.join(', ')}`);
      return level;
    },
    problem(line) {
      problems.push(line);
    },
    problems,
    throwIfProblems({ code = 'config_invalid', heading = 'invalid configuration:', bareWhenOne = false } = {}) {
      if (problems.length === 0) return;
      const message = bareWhenOne && problems.length === 1 ? problems[0]! : `${heading}\n${problems.map((p) => `  ${p}`).join('\n')}`;
      throw new StreamcellError(code, message);
    },
  };
}

/**
 * A README table of `vars` (variable, default, meaning), built from the
 * service's list so that the two cannot drift; test/readme.test.ts reads
 * the README's tables in this shape.
 */
export function envTable(vars: readonly EnvVar[]): string {
  const rows = vars.map((v) => `| \`${v.name}\` | ${v.default === undefined ? '' : v.default === '' ? '(empty)' : `\`${v.default}\``} | ${v.description} |`);
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
