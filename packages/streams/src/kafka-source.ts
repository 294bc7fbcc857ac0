import kafkajs, { type Consumer, type EachBatchPayload, type IHeaders, type Kafka, type KafkaMessage, type KafkaJSErrorMetadata } from 'kafkajs';
import { StreamcellError } from '@streamcell/protocol';
import { createKafkaClient, findCause, isGroupChange, kafkaUnavailable, type KafkaConnectionOptions } from './kafka-client.ts';
import { silentLogger, type StreamsLogger } from './logger.ts';
import { sendAsGroup, type GroupMember } from './group-request.ts';
import { lagBetween, offsetPlus, parseOffset } from './offsets.ts';
import type { BatchControl, BatchHandler, InboundBatch, InboundMessage, PartitionLag, Source } from './types.ts';

/** Settings of a {@link KafkaSource}. */
export interface KafkaSourceOptions extends KafkaConnectionOptions {
  readonly groupId: string;
  /** Topic names, or patterns matched against the topics that exist when `start` runs. */
  readonly topics: readonly (string | RegExp)[];
  /** Where a partition without a committed offset starts: earliest (true) or latest (false, default). */
  readonly fromBeginning?: boolean;
  /** Group session timeout, ms (default 30,000). */
  readonly sessionTimeout?: number;
  /** Minimum gap between heartbeats, ms (default 3,000); must be below `sessionTimeout`. */
  readonly heartbeatInterval?: number;
  /** How long the coordinator waits for members to rejoin, ms (default 60,000). */
  readonly rebalanceTimeout?: number;
  /** Upper bound of one partition's data in one fetch, bytes (default 1 MiB). */
  readonly maxBytesPerPartition?: number;
  /**
   * Longest a fetch waits on the broker for data, ms. Default 1,000 rather
   * than kafkajs' 5,000, because `stop` waits for the fetch in flight.
   */
  readonly maxWaitTimeInMs?: number;
  /**
   * Least data a fetch waits for on the broker, bytes (default 1: answer as
   * soon as anything is there), up to `maxWaitTimeInMs`. Larger values trade
   * that much wait for fewer, fuller fetches when events arrive slowly.
   */
  readonly minBytes?: number;
  /** How many partitions' batches are handled at once (default 1). */
  readonly partitionsConsumedConcurrently?: number;
  /**
   * Called when kafkajs' consumer crashed; `restarting` says whether it
   * rejoins by itself. When it does not, the source is dead: stop it and exit.
   */
  readonly onCrash?: (error: Error, restarting: boolean) => void;
}

type Lifecycle = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/** What the source remembers per partition between batches. */
interface PartitionTrack {
  highWatermark: string;
  /** Last committed next offset this member knows of. */
  committed: string;
  /**
   * Set when a handler returned without committing all it was given: the
   * consumer's position is then ahead of the commit, and a later throw has to
   * seek back here so that redelivery starts at the commit.
   */
  rewindTo: string | null;
}

/** One batch in the handler's hands. */
interface InFlight {
  readonly topic: string;
  readonly partition: number;
  /**
   * A rejoin gave this member an assignment without the partition: its
   * commits would now overwrite the new owner's, so they are refused.
   */
  revoked: boolean;
  /** What the handler committed during this batch, if anything. */
  committed: string | null;
  /** The group join this batch was handed out under (see {@link KafkaSource}'s group commits). */
  readonly joins: number;
}

/** A commit waiting for the one in flight; see `#commit`. */
interface PendingCommit extends GroupMember {
  readonly inFlight: InFlight;
  readonly payload: EachBatchPayload;
  readonly offset: string;
}

const DEFAULT_MAX_WAIT_MS = 1_000;

/**
 * OffsetCommit errors that concern one partition of a request. Any other
 * failure (a rebalance, the coordinator moving or not answering, the
 * connection) is the same for every partition of a merged commit, so it is
 * not retried partition by partition.
 */
const PARTITION_COMMIT_ERRORS = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'OFFSET_METADATA_TOO_LARGE', 'INVALID_COMMIT_OFFSET_SIZE', 'TOPIC_AUTHORIZATION_FAILED']);

/**
 * A {@link Source} on a kafkajs consumer group. Offsets move only when the
 * handler commits: kafkajs runs with autoCommit and eachBatchAutoResolve off,
 * so kafkajs never commits on its own, and a handler that throws gets the
 * partition again from its last commit (kafkajs retries the fetch with
 * backoff, then restarts the consumer, forever; nothing is skipped).
 */
export class KafkaSource implements Source {
  readonly #options: KafkaSourceOptions;
  readonly #logger: StreamsLogger;
  readonly #kafka: Kafka;
  #consumer: Consumer | null = null;
  #state: Lifecycle = 'idle';
  #starting: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  #assignments: ReadonlyMap<string, readonly number[]> = new Map();
  readonly #tracks = new Map<string, PartitionTrack>();
  readonly #inFlight = new Set<InFlight>();
  /**
   * A heartbeat or commit learnt that the group is rebalancing; until this
   * member rejoins, every batch is stale, including ones kafkajs fetched
   * before and still hands over (issue #916).
   */
  #groupChanged = false;
  /** Group joins so far; commits are merged only within one. */
  #joins = 0;
  /** Commits waiting for the one in flight; see `#commit`. */
  readonly #commits: PendingCommit[] = [];
  #committing = false;
  #commitRequests = 0;

  constructor(options: KafkaSourceOptions) {
    checkSourceOptions(options);
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#kafka = createKafkaClient(options, this.#logger);
  }

  /**
   * Connects, subscribes and starts the consumer. Rejects when the brokers
   * cannot be reached, a topic is missing, or the first join fails in a way
   * kafkajs will not retry; a join kafkajs retries is left to it.
   */
  start(handler: BatchHandler): Promise<void> {
    if (this.#state !== 'idle') return Promise.reject(new StreamcellError('internal', `KafkaSource.start called in state ${this.#state}; a source starts once`));
    this.#state = 'starting';
    this.#starting = this.#start(handler);
    return this.#starting;
  }

  async #start(handler: BatchHandler): Promise<void> {
    const o = this.#options;
    const consumer = this.#kafka.consumer({
      groupId: o.groupId,
      // A missing topic is a deployment error; never let a consumer create it with broker defaults.
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: o.maxWaitTimeInMs ?? DEFAULT_MAX_WAIT_MS,
      ...(o.minBytes === undefined ? {} : { minBytes: o.minBytes }),
      ...(o.sessionTimeout === undefined ? {} : { sessionTimeout: o.sessionTimeout }),
      ...(o.heartbeatInterval === undefined ? {} : { heartbeatInterval: o.heartbeatInterval }),
      ...(o.rebalanceTimeout === undefined ? {} : { rebalanceTimeout: o.rebalanceTimeout }),
      ...(o.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: o.maxBytesPerPartition }),
    });
    this.#consumer = consumer;
    let crashedWhileStarting: Error | null = null;

    consumer.on(consumer.events.GROUP_JOIN, (event) => this.#onJoin(event.payload.memberAssignment));
    consumer.on(consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload;
      this.#assignments = new Map();
      // A crash kafkajs recovers from by itself (the group coordinator still
      // loading on a fresh broker, say) is not a failed start.
      if (this.#state === 'starting' && !restart) crashedWhileStarting = error;
      this.#logger.error({ groupId: o.groupId, err: error, restarting: restart }, 'Kafka consumer crashed');
      o.onCrash?.(error, restart);
    });

    try {
      try {
        await consumer.connect();
      } catch (err) {
        throw kafkaUnavailable('cannot connect the consumer to Kafka', err, o.brokers);
      }
      try {
        await consumer.subscribe({ topics: [...o.topics], fromBeginning: o.fromBeginning ?? false });
      } catch (err) {
        if (findCause(err, (e) => (e as { type?: unknown }).type === 'UNKNOWN_TOPIC_OR_PARTITION') !== undefined) {
          throw new StreamcellError('config_invalid', `cannot subscribe to ${o.topics.map(String).join(', ')}: a topic does not exist (create it first, e.g. with ensureTopics)`, { cause: err });
        }
        throw kafkaUnavailable('cannot subscribe the consumer', err, o.brokers);
      }
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: o.partitionsConsumedConcurrently ?? 1,
        eachBatch: (payload) => this.#eachBatch(payload, handler),
      });
      // kafkajs reports a failed first join through its crash handler, not by rejecting run().
      if (crashedWhileStarting !== null) throw kafkaUnavailable(`consumer group ${o.groupId} could not be joined`, crashedWhileStarting, o.brokers);
      if (this.#state === 'starting') this.#state = 'running';
      this.#logger.info({ groupId: o.groupId, assignments: Object.fromEntries(this.#assignments) }, 'Kafka source running');
    } catch (err) {
      this.#state = 'stopped';
      await consumer.disconnect().catch(() => {});
      throw err;
    }
  }

  /**
   * Lets the batch in hand finish (its handler sees `isRunning()` turn false
   * and may still commit), then leaves the group and disconnects. Commits
   * nothing on its own.
   */
  stop(): Promise<void> {
    if (this.#stopping !== null) return this.#stopping;
    this.#stopping = this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const before = this.#state;
    this.#state = 'stopping';
    if (before === 'idle') {
      this.#state = 'stopped';
      return;
    }
    // A stop during start waits for the join, so that the disconnect below also cancels it cleanly.
    if (this.#starting !== null) await this.#starting.catch(() => {});
    try {
      await this.#consumer?.disconnect();
    } catch (err) {
      throw kafkaUnavailable('Kafka consumer did not disconnect cleanly', err, this.#options.brokers);
    } finally {
      this.#state = 'stopped';
      this.#assignments = new Map();
      this.#tracks.clear();
      this.#logger.info({ groupId: this.#options.groupId }, 'Kafka source stopped');
    }
  }

  /** Partitions of the latest group generation this member joined, by topic. */
  assignments(): ReadonlyMap<string, readonly number[]> {
    return this.#assignments;
  }

  /**
   * Lag of the assigned partitions this member has been handed data from, as
   * of each partition's latest batch. A partition that had nothing to read
   * since this member joined is absent (its lag is not known here).
   */
  lag(): readonly PartitionLag[] {
    const out: PartitionLag[] = [];
    for (const [topic, partitions] of this.#assignments) {
      for (const partition of partitions) {
        const t = this.#tracks.get(trackKey(topic, partition));
        if (t === undefined) continue;
        out.push({ topic, partition, highWatermark: t.highWatermark, committed: t.committed, lag: lagBetween(t.highWatermark, t.committed) });
      }
    }
    return out;
  }

  #onJoin(memberAssignment: Record<string, number[]>): void {
    const next = new Map<string, readonly number[]>();
    for (const [topic, partitions] of Object.entries(memberAssignment)) next.set(topic, [...partitions].sort((a, b) => a - b));
    const kept = (topic: string, partition: number): boolean => (this.#assignments.get(topic) ?? []).includes(partition) && (next.get(topic) ?? []).includes(partition);
    for (const b of this.#inFlight) {
      if (!(next.get(b.topic) ?? []).includes(b.partition)) b.revoked = true;
    }
    for (const [key, t] of this.#tracks) {
      const [topic, partition] = splitTrackKey(key);
      // Another member may have committed a partition that left us and came back; forget what we knew.
      if (!kept(topic, partition)) this.#tracks.delete(key);
      // A new generation repositions every partition at its committed offset, so no rewind is pending.
      else t.rewindTo = null;
    }
    this.#assignments = next;
    this.#groupChanged = false;
    this.#joins += 1;
    this.#logger.info({ groupId: this.#options.groupId, assignments: Object.fromEntries(next) }, 'joined consumer group');
  }

  async #eachBatch(payload: EachBatchPayload, handler: BatchHandler): Promise<void> {
    const { batch } = payload;
    const { topic, partition } = batch;
    const first = batch.messages[0];
    const last = batch.messages[batch.messages.length - 1];
    // kafkajs only calls eachBatch with at least one message; guard anyway, an empty batch has nothing to hand over.
    if (first === undefined || last === undefined) return;
    const end = offsetPlus(last.offset, 1);
    const key = trackKey(topic, partition);
    let track = this.#tracks.get(key);
    if (track === undefined) {
      track = { highWatermark: batch.highWatermark, committed: first.offset, rewindTo: null };
      this.#tracks.set(key, track);
    } else {
      track.highWatermark = batch.highWatermark;
    }
    const t = track;
    const inFlight: InFlight = { topic, partition, revoked: false, committed: null, joins: this.#joins };
    this.#inFlight.add(inFlight);
    const firstBig = parseOffset(first.offset);
    const endBig = parseOffset(end);

    const control: BatchControl = {
      heartbeat: async () => {
        try {
          await payload.heartbeat();
        } catch (err) {
          if (isGroupChange(err)) this.#groupChanged = true;
          throw kafkaUnavailable(`heartbeat failed for ${topic}/${partition}`, err);
        }
      },
      isRunning: () => this.#state === 'running' && payload.isRunning(),
      isStale: () => inFlight.revoked || this.#groupChanged || payload.isStale(),
      commit: async (nextOffset: string) => {
        const n = parseOffset(nextOffset, 'commit offset');
        // Committing outside the batch would either skip messages nobody saw or undo other commits.
        if (n < firstBig || n > endBig) {
          throw new StreamcellError('internal', `commit ${nextOffset} is outside batch ${topic}/${partition} [${first.offset}, ${end}]`);
        }
        // Classic group commits are not checked against ownership: after a revocation ours could overwrite the new owner's.
        // A rebalance merely under way is no reason to refuse: the coordinator accepts commits of the current
        // generation until it ends and rejects them after, so work done so far is not redone needlessly.
        if (inFlight.revoked) throw revokedError(inFlight, nextOffset);
        try {
          await this.#commit(payload, inFlight, n.toString());
        } catch (err) {
          // Revoked while it waited behind another commit: refused as above.
          if (err instanceof StreamcellError) throw err;
          if (isGroupChange(err)) this.#groupChanged = true;
          throw kafkaUnavailable(`commit of ${topic}/${partition} at ${nextOffset} failed`, err);
        }
        inFlight.committed = n.toString();
        t.committed = n.toString();
        t.rewindTo = null;
        // Keep the fetch position on the commit, so that a throw later in this batch re-reads from exactly here.
        this.#resolve(payload, inFlight, (n - 1n).toString());
      },
    };

    try {
      await handler(toInboundBatch(batch.topic, batch.partition, batch.highWatermark, batch.messages), control);
    } catch (err) {
      this.#inFlight.delete(inFlight);
      const fields = { topic, partition, firstOffset: first.offset, lastOffset: last.offset, committed: t.committed, err };
      // A handler giving up on a batch because the group is rebalancing is routine, not a failure.
      if (findCause(err, isGroupChange) !== undefined) this.#logger.warn(fields, 'batch abandoned because the group is rebalancing; the partition is read again from its last commit');
      else this.#logger.error(fields, 'batch handler failed; the partition is read again from its last commit');
      if (t.rewindTo !== null && !inFlight.revoked) {
        try {
          this.#consumer?.seek({ topic, partition, offset: t.rewindTo });
          t.rewindTo = null;
        } catch (seekErr) {
          // Only when kafkajs is between runs; its restart then reads from the committed offset anyway.
          this.#logger.warn({ topic, partition, offset: t.rewindTo, err: seekErr }, 'could not seek back to the last commit');
        }
      }
      throw handlerFailure(err);
    }
    this.#inFlight.delete(inFlight);
    if (inFlight.revoked || this.#groupChanged || payload.isStale() || this.#state !== 'running') return;
    // A handler that returned has handled the batch: move on even if it commits later.
    if (inFlight.committed !== end) t.rewindTo = inFlight.committed ?? t.rewindTo ?? first.offset;
    this.#resolve(payload, inFlight, last.offset);
  }

  /**
   * Commits `offset` for the batch's partition. Partitions handled
   * concurrently finish together and would each wait for their own
   * OffsetCommit round trip (the broker answers one connection's requests in
   * order), and kafkajs fetches again only when every batch of a fetch is
   * done. So a commit goes out after the current turn of the event loop, and
   * commits that arrive by then or while one is in flight are merged into
   * one request (a group commit), as long as they were handed out under the
   * same group join. When a merged request fails for one partition's reason,
   * each commit is sent again on its own, so that the failure reaches only
   * the caller it belongs to; any other failure reaches all of them at once.
   */
  #commit(payload: EachBatchPayload, inFlight: InFlight, offset: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#commits.push({ inFlight, payload, offset, resolve, reject });
      if (!this.#committing) {
        // After this turn of the event loop, so that batches finishing together share the first request too.
        this.#committing = true;
        setImmediate(() => void this.#flushCommits());
      }
    });
  }

  async #flushCommits(): Promise<void> {
    while (this.#commits.length > 0) {
      const joins = this.#commits[0]!.inFlight.joins;
      const group: PendingCommit[] = [];
      for (let i = 0; i < this.#commits.length; ) {
        const c = this.#commits[i]!;
        if (c.inFlight.joins !== joins) {
          i++;
          continue;
        }
        this.#commits.splice(i, 1);
        // Revoked while it waited: its commit would overwrite the new owner's.
        if (c.inFlight.revoked) c.reject(revokedError(c.inFlight, c.offset));
        else group.push(c);
      }
      if (group.length === 0) continue;
      await sendAsGroup(group, (parts) => this.#sendCommit(parts), (err) => findCause(err, (e) => PARTITION_COMMIT_ERRORS.has(String((e as { type?: unknown }).type))) === undefined);
    }
    this.#committing = false;
  }

  /** One OffsetCommit request for the commits of `group` (one group join; a partition's last commit wins). */
  async #sendCommit(group: readonly PendingCommit[]): Promise<void> {
    const byTopic = new Map<string, Map<number, string>>();
    for (const c of group) {
      const partitions = byTopic.get(c.inFlight.topic) ?? new Map<number, string>();
      partitions.set(c.inFlight.partition, c.offset);
      byTopic.set(c.inFlight.topic, partitions);
    }
    const topics = [...byTopic].map(([topic, partitions]) => ({ topic, partitions: [...partitions].map(([partition, offset]) => ({ partition, offset })) }));
    this.#commitRequests += 1;
    // Every batch of one join shares kafkajs' consumer group object, which commits any of its partitions.
    await group[0]!.payload.commitOffsetsIfNecessary({ topics });
  }

  /** OffsetCommit requests sent so far (merged commits count once); for tests and metrics. */
  get commitRequests(): number {
    return this.#commitRequests;
  }

  /** Moves the fetch position to just after `offset`, unless the partition is no longer ours. */
  #resolve(payload: EachBatchPayload, inFlight: InFlight, offset: string): void {
    if (inFlight.revoked) return;
    try {
      payload.resolveOffset(offset);
    } catch (err) {
      // kafkajs throws here when a rejoin replaced its offset table without this partition.
      inFlight.revoked = true;
      this.#logger.warn({ topic: inFlight.topic, partition: inFlight.partition, offset, err }, 'could not move the fetch position; treating the partition as revoked');
    }
  }
}

function revokedError(inFlight: InFlight, offset: string): StreamcellError {
  return new StreamcellError('kafka_unavailable', `${inFlight.topic}/${inFlight.partition} was reassigned by a rebalance; commit ${offset} refused`, { retriable: true });
}

/**
 * Turns a handler's error into one kafkajs retries. A group change found in
 * the cause chain is handed back as is, so that kafkajs rejoins at once rather
 * than after a backoff; anything else becomes retriable, because a
 * non-retriable error would crash the consumer for good (kafkajs restarts only
 * on retriable causes), stalling every partition instead of redelivering one.
 */
function handlerFailure(err: unknown): Error {
  const groupChange = findCause(err, isGroupChange);
  if (groupChange instanceof Error) return groupChange;
  const message = err instanceof Error ? err.message : String(err);
  return new kafkajs.KafkaJSError(`batch handler failed: ${message}`, { retriable: true, cause: err } as KafkaJSErrorMetadata);
}

/** Maps a kafkajs batch to ours; header values become UTF-8 strings, the last one wins when a key repeats (Java's lastHeader). */
export function toInboundBatch(topic: string, partition: number, highWatermark: string, messages: readonly KafkaMessage[]): InboundBatch {
  return {
    topic,
    partition,
    highWatermark,
    messages: messages.map(
      (m): InboundMessage => ({
        topic,
        partition,
        offset: m.offset,
        key: m.key ?? null,
        value: m.value ?? null,
        timestamp: Number(m.timestamp),
        headers: decodeHeaders(m.headers),
      }),
    ),
  };
}

/** What a message without headers gets: one shared, frozen object rather than a new one per message. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

function decodeHeaders(headers: IHeaders | undefined): Readonly<Record<string, string>> {
  if (headers === undefined) return NO_HEADERS;
  let any = false;
  for (const _ in headers) {
    any = true;
    break;
  }
  if (!any) return NO_HEADERS;
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers)) {
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (value === undefined) continue;
    out[name] = typeof value === 'string' ? value : value.toString('utf8');
  }
  return out;
}

function trackKey(topic: string, partition: number): string {
  return `${partition}:${topic}`;
}

function splitTrackKey(key: string): [string, number] {
  const i = key.indexOf(':');
  return [key.slice(i + 1), Number(key.slice(0, i))];
}

function checkSourceOptions(o: KafkaSourceOptions): void {
  if (typeof o.groupId !== 'string' || o.groupId === '') throw new StreamcellError('config_invalid', 'Kafka source groupId must be a non-empty string');
  if (!Array.isArray(o.topics) || o.topics.length === 0) throw new StreamcellError('config_invalid', 'Kafka source needs at least one topic');
  for (const t of o.topics) {
    if (!(t instanceof RegExp) && (typeof t !== 'string' || t === '')) throw new StreamcellError('config_invalid', `Kafka source topic must be a non-empty string or a RegExp, got ${JSON.stringify(t)}`);
  }
  const positive = (name: string, v: number | undefined): void => {
    if (v !== undefined && (!Number.isInteger(v) || v <= 0)) throw new StreamcellError('config_invalid', `Kafka source ${name} must be a positive integer, got ${v}`);
  };
  positive('sessionTimeout', o.sessionTimeout);
  positive('heartbeatInterval', o.heartbeatInterval);
  positive('rebalanceTimeout', o.rebalanceTimeout);
  positive('maxBytesPerPartition', o.maxBytesPerPartition);
  positive('maxWaitTimeInMs', o.maxWaitTimeInMs);
  positive('minBytes', o.minBytes);
  positive('partitionsConsumedConcurrently', o.partitionsConsumedConcurrently);
  const session = o.sessionTimeout ?? 30_000;
  const heartbeat = o.heartbeatInterval ?? 3_000;
  if (heartbeat >= session) throw new StreamcellError('config_invalid', `Kafka heartbeatInterval (${heartbeat} ms) must be below sessionTimeout (${session} ms)`);
}
