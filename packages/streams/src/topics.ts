import type { Admin } from 'kafkajs';
import { StreamcellError } from '@streamcell/protocol';
import { createKafkaClient, findCause, kafkaUnavailable, type KafkaConnectionOptions } from './kafka-client.ts';
import { silentLogger, type StreamsLogger } from './logger.ts';

/** A topic the service needs. */
export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  /** Default: the broker's `default.replication.factor`. */
  readonly replicationFactor?: number;
  /** Topic-level settings such as `retention.ms`, applied only when the topic is created. */
  readonly config?: Readonly<Record<string, string>>;
}

/** What {@link ensureTopics} found and did. */
export interface EnsureTopicsResult {
  readonly created: readonly string[];
  /** Topics that were already there, with their actual partition counts. */
  readonly existing: readonly { readonly topic: string; readonly partitions: number }[];
}

/** Options of {@link ensureTopics}. */
export interface EnsureTopicsOptions {
  readonly logger?: StreamsLogger;
  /** How long to wait for the controller and for the new partitions' leaders, ms (default 10,000). */
  readonly timeoutMs?: number;
}

/**
 * Creates the topics in `specs` that do not exist and leaves existing ones
 * alone, even when their partition count differs from the spec (adding
 * partitions would move streams to other partitions and break per-stream
 * order; that stays an operator's decision, so it is only logged).
 *
 * `target` is a connected kafkajs Admin, or a broker list / connection
 * options, in which case a short-lived admin client is opened and closed here.
 */
export async function ensureTopics(
  target: Admin | readonly string[] | KafkaConnectionOptions,
  specs: readonly TopicSpec[],
  options: EnsureTopicsOptions = {},
): Promise<EnsureTopicsResult> {
  checkSpecs(specs);
  const logger = options.logger ?? (isConnectionOptions(target) ? target.logger : undefined) ?? silentLogger;
  if (isAdmin(target)) return ensureWith(target, specs, logger, options.timeoutMs ?? 10_000, undefined);

  const connection: KafkaConnectionOptions = Array.isArray(target)
    ? { brokers: target as readonly string[], clientId: 'streamcell-topics', logger }
    : (target as KafkaConnectionOptions);
  // A few quick retries: at startup an unreachable broker should fail in seconds, not minutes.
  const admin = createKafkaClient({ retry: { retries: 3, initialRetryTime: 200 }, ...connection }, logger).admin();
  try {
    await admin.connect();
  } catch (err) {
    throw kafkaUnavailable('cannot reach Kafka to check topics', err, connection.brokers);
  }
  try {
    return await ensureWith(admin, specs, logger, options.timeoutMs ?? 10_000, connection.brokers);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * The topics of `topics` that do not exist, for a service that must not
 * create them (it says so at start rather than letting every send retry on
 * UNKNOWN_TOPIC_OR_PARTITION). Opens and closes a short-lived admin client.
 */
export async function missingTopics(connection: KafkaConnectionOptions, topics: readonly string[]): Promise<string[]> {
  const logger = connection.logger ?? silentLogger;
  const admin = createKafkaClient({ retry: { retries: 3, initialRetryTime: 200 }, ...connection }, logger).admin();
  try {
    await admin.connect();
  } catch (err) {
    throw kafkaUnavailable('cannot reach Kafka to check topics', err, connection.brokers);
  }
  try {
    const names = new Set(await admin.listTopics());
    return topics.filter((t) => !names.has(t));
  } catch (err) {
    throw kafkaUnavailable('cannot list Kafka topics', err, connection.brokers);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function ensureWith(admin: Admin, specs: readonly TopicSpec[], logger: StreamsLogger, timeoutMs: number, brokers: readonly string[] | undefined): Promise<EnsureTopicsResult> {
  let names: Set<string>;
  try {
    names = new Set(await admin.listTopics());
  } catch (err) {
    throw kafkaUnavailable('cannot list Kafka topics', err, brokers);
  }
  const missing = specs.filter((s) => !names.has(s.topic));
  const created: string[] = [];
  if (missing.length > 0) {
    let made: boolean;
    try {
      made = await admin.createTopics({
        waitForLeaders: true,
        timeout: timeoutMs,
        topics: missing.map((s) => ({
          topic: s.topic,
          numPartitions: s.partitions,
          // -1 asks the broker for its default.replication.factor.
          replicationFactor: s.replicationFactor ?? -1,
          ...(s.config === undefined ? {} : { configEntries: Object.entries(s.config).map(([name, value]) => ({ name, value })) }),
        })),
      });
    } catch (err) {
      const message = `cannot create topics ${missing.map((s) => s.topic).join(', ')}: ${describeCreateError(err)}`;
      // A spec the cluster cannot satisfy (say, more replicas than brokers) is ours to fix, not Kafka's to recover from.
      if (isRequestError(err)) throw new StreamcellError('config_invalid', message, { cause: err });
      throw new StreamcellError('kafka_unavailable', message, { retriable: true, cause: err });
    }
    // false: another process created them first (kafkajs reports TOPIC_ALREADY_EXISTS this way); they count as existing.
    if (made) created.push(...missing.map((s) => s.topic));
    for (const topic of created) logger.info({ topic }, 'created Kafka topic');
  }

  const existingSpecs = specs.filter((s) => !created.includes(s.topic));
  const existing: { topic: string; partitions: number }[] = [];
  if (existingSpecs.length > 0) {
    let metadata;
    try {
      metadata = await admin.fetchTopicMetadata({ topics: existingSpecs.map((s) => s.topic) });
    } catch (err) {
      throw kafkaUnavailable('cannot read Kafka topic metadata', err, brokers);
    }
    for (const spec of existingSpecs) {
      const partitions = metadata.topics.find((t) => t.name === spec.topic)?.partitions.length ?? 0;
      existing.push({ topic: spec.topic, partitions });
      if (partitions !== spec.partitions) {
        logger.warn({ topic: spec.topic, partitions, wanted: spec.partitions }, 'Kafka topic exists with a different partition count; left as it is');
      }
    }
  }
  return { created, existing };
}

/** kafkajs says only "Topic creation errors" and keeps the reasons per topic inside; spell them out. */
function describeCreateError(err: unknown): string {
  const agg = findCause(err, (e) => Array.isArray((e as { errors?: unknown }).errors)) as { errors: { topic?: string; type?: string; message?: string }[] } | undefined;
  if (agg === undefined) return err instanceof Error ? err.message : String(err);
  return agg.errors.map((e) => `${e.topic ?? '?'}: ${e.type ?? 'error'} (${e.message ?? ''})`).join('; ');
}

/** Errors about the request itself (bad settings), which no retry will fix. */
function isRequestError(err: unknown): boolean {
  const bad = new Set(['INVALID_REPLICATION_FACTOR', 'INVALID_PARTITIONS', 'INVALID_CONFIG', 'INVALID_TOPIC_EXCEPTION', 'POLICY_VIOLATION', 'INVALID_REQUEST']);
  const agg = findCause(err, (e) => Array.isArray((e as { errors?: unknown }).errors)) as { errors: { type?: string }[] } | undefined;
  if (agg !== undefined) return agg.errors.some((e) => bad.has(String(e.type)));
  return findCause(err, (e) => bad.has(String((e as { type?: unknown }).type))) !== undefined;
}

function checkSpecs(specs: readonly TopicSpec[]): void {
  const seen = new Set<string>();
  for (const s of specs) {
    // Kafka's own rule: at most 249 characters of [a-zA-Z0-9._-], not "." or "..".
    if (typeof s.topic !== 'string' || !/^[a-zA-Z0-9._-]{1,249}$/.test(s.topic) || s.topic === '.' || s.topic === '..') {
      throw new StreamcellError('config_invalid', `invalid Kafka topic name ${JSON.stringify(s.topic)}`);
    }
    if (!Number.isInteger(s.partitions) || s.partitions < 1) throw new StreamcellError('config_invalid', `topic ${s.topic}: partitions must be a positive integer, got ${s.partitions}`);
    if (s.replicationFactor !== undefined && (!Number.isInteger(s.replicationFactor) || s.replicationFactor < 1)) {
      throw new StreamcellError('config_invalid', `topic ${s.topic}: replicationFactor must be a positive integer, got ${s.replicationFactor}`);
    }
    if (seen.has(s.topic)) throw new StreamcellError('config_invalid', `topic ${s.topic} is listed twice`);
    seen.add(s.topic);
  }
}

function isAdmin(target: unknown): target is Admin {
  return typeof target === 'object' && target !== null && !Array.isArray(target) && typeof (target as Admin).createTopics === 'function';
}

function isConnectionOptions(target: unknown): target is KafkaConnectionOptions {
  return typeof target === 'object' && target !== null && !Array.isArray(target) && !isAdmin(target);
}
