import { pino, type Logger, type LoggerOptions } from 'pino';

/** Field paths whose values never reach a log line. */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'config.GATEWAY_TOKEN',
  'config.REDIS_PASSWORD',
];

/** Options of {@link createLogger}. */
export interface LoggerSettings {
  readonly name: string;
  readonly level?: string;
  /** Where lines go (default stdout); tests pass a stream to read them back. */
  readonly destination?: NodeJS.WritableStream;
}

/**
 * A pino JSON logger. Components take `logger.child({ component })`, and
 * events carry structured fields (`stream`, `partition`, `offset`), never
 * text glued together, so that logs can be queried.
 */
export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    name: settings.name,
    level: settings.level ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return settings.destination ? pino(options, settings.destination) : pino(options);
}

/** A URL with its password replaced, fit for logs (`redis://user:***@host:6379`). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

export type { Logger } from 'pino';
