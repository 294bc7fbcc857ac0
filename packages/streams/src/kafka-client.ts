import { Kafka, type RetryOptions } from 'kafkajs';
import { StreamcellError } from '@streamcell/protocol';
import { kafkaLogCreator, toKafkaLogLevel, type KafkaLogLevel, type StreamsLogger } from './logger.ts';

/** Connection settings shared by the Kafka adapters. */
export interface KafkaConnectionOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** Receives our own log lines and, from `kafkaLogLevel` up, kafkajs' lines. */
  readonly logger?: StreamsLogger;
  /** Default `warn`: kafkajs logs every join and fetch detail below that. */
  readonly kafkaLogLevel?: KafkaLogLevel;
  /** TCP connect timeout per broker, ms (kafkajs default 1,000). */
  readonly connectionTimeout?: number;
  /** kafkajs retry policy for connecting and requests. */
  readonly retry?: RetryOptions;
}

/** Builds a kafkajs client; fails on settings that could never connect. */
export function createKafkaClient(options: KafkaConnectionOptions, logger: StreamsLogger): Kafka {
  checkBrokers(options.brokers);
  if (typeof options.clientId !== 'string' || options.clientId === '') throw new StreamcellError('config_invalid', 'Kafka clientId must be a non-empty string');
  return new Kafka({
    brokers: [...options.brokers],
    clientId: options.clientId,
    logLevel: toKafkaLogLevel(options.kafkaLogLevel ?? 'warn'),
    logCreator: kafkaLogCreator(logger),
    ...(options.connectionTimeout === undefined ? {} : { connectionTimeout: options.connectionTimeout }),
    ...(options.retry === undefined ? {} : { retry: options.retry }),
  });
}

/** Rejects an empty or malformed broker list before kafkajs turns it into a vague connection error. */
export function checkBrokers(brokers: readonly string[]): void {
  if (!Array.isArray(brokers) || brokers.length === 0) throw new StreamcellError('config_invalid', 'Kafka brokers must be a non-empty list of host:port');
  for (const b of brokers) {
    if (typeof b !== 'string' || !/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/.test(b)) throw new StreamcellError('config_invalid', `Kafka broker must be host:port, got ${JSON.stringify(b)}`);
  }
}

/**
 * Wraps a kafkajs failure as `kafka_unavailable`: from the caller's side
 * every one of them means "Kafka did not do it", and retrying later is the
 * only remedy the service has.
 */
export function kafkaUnavailable(what: string, cause: unknown, brokers?: readonly string[]): StreamcellError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const where = brokers === undefined ? '' : ` (brokers ${brokers.join(',')})`;
  return new StreamcellError('kafka_unavailable', `${what}${where}: ${reason}`, { retriable: true, cause });
}

/** kafkajs protocol error types that mean "this member's group generation is over". */
const GROUP_CHANGED = new Set(['REBALANCE_IN_PROGRESS', 'NOT_COORDINATOR_FOR_GROUP', 'NOT_COORDINATOR', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);

/** True when `err` is kafkajs telling us the group moved on without this member's generation. */
export function isGroupChange(err: unknown): boolean {
  return typeof err === 'object' && err !== null && GROUP_CHANGED.has(String((err as { type?: unknown }).type));
}

/**
 * The first error in `err`'s cause chain that satisfies `test`. The chain
 * follows `cause`, or where there is none kafkajs's `originalError` (how its
 * retry errors, such as KafkaJSNumberOfRetriesExceeded, hold the last failure).
 */
export function findCause(err: unknown, test: (e: unknown) => boolean): unknown {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e !== undefined && e !== null && !seen.has(e)) {
    if (test(e)) return e;
    seen.add(e);
    const { cause, originalError } = e as { cause?: unknown; originalError?: unknown };
    e = cause ?? originalError;
  }
  return undefined;
}
