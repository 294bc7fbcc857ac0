import { logLevel, type logCreator } from 'kafkajs';

/**
 * The subset of a pino logger the adapters use, so that callers pass their
 * pino child logger without this package depending on pino.
 */
export interface StreamsLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** A logger that drops everything; the default when the caller passes none. */
export const silentLogger: StreamsLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** How much of kafkajs' own logging to pass on. */
export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

const LEVELS: Record<KafkaLogLevel, logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};

/** The kafkajs numeric level for a {@link KafkaLogLevel}. */
export function toKafkaLogLevel(level: KafkaLogLevel): logLevel {
  return LEVELS[level];
}

/**
 * Routes kafkajs' log lines into a {@link StreamsLogger} with kafkajs'
 * structured extras kept as fields, so its crash and rebalance messages land
 * in the same log stream as ours.
 */
export function kafkaLogCreator(logger: StreamsLogger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _timestamp, ...extra } = log;
      const fields = { component: 'kafkajs', namespace, ...extra };
      if (level === logLevel.ERROR) logger.error(fields, message);
      else if (level === logLevel.WARN) logger.warn(fields, message);
      else if (level === logLevel.INFO) logger.info(fields, message);
      else logger.debug(fields, message);
    };
}
