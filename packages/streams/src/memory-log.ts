import { StreamcellError } from '@streamcell/protocol';
import { silentLogger, type StreamsLogger } from './logger.ts';
import { partitionForKey } from './murmur2.ts';
import type { EnsureTopicsResult, TopicSpec } from './topics.ts';
import { SendWithdrawnError } from './types.ts';
import { isPacked, messageCount, unpackMessages } from './packed.ts';
import type { BatchControl, BatchHandler, InboundBatch, InboundMessage, OutboundMessage, PartitionLag, SendOptions, Sink, SinkRecords, Source } from './types.ts';

/** Settings of a {@link MemoryLog}. */
export interface MemoryLogOptions {
  /** Topics that exist from the start. */
  readonly topics?: readonly Pick<TopicSpec, 'topic' | 'partitions'>[];
  /**
   * When set, appending to an unknown topic creates it with this many
   * partitions (Kafka's auto.create.topics.enable). Unset, it is an error, as
   * on our brokers.
   */
  readonly autoCreatePartitions?: number;
  /** Clock for message timestamps, epoch ms. */
  readonly now?: () => number;
}

/** A message to {@link MemoryLog.append}, optionally pinned to a partition or time. */
export interface AppendMessage extends OutboundMessage {
  readonly partition?: number;
  readonly timestamp?: number;
}

/** Where an appended message landed. */
export interface AppendResult {
  readonly partition: number;
  readonly offset: string;
}

/** Settings of a source on a {@link MemoryLog}; the names follow {@link KafkaSourceOptions}. */
export interface MemorySourceOptions {
  readonly groupId: string;
  /** Topic names (which must exist) or patterns matched against the topics when `start` runs. */
  readonly topics: readonly (string | RegExp)[];
  /** Where a partition without a committed offset starts: earliest (true) or latest (false, default). */
  readonly fromBeginning?: boolean;
  /** Most messages in one batch (default 500). */
  readonly maxBatchSize?: number;
  /** How many partitions' batches are handled at once (default 1). */
  readonly partitionsConsumedConcurrently?: number;
  /** Wait before redelivering a partition whose handler threw, ms; doubles per consecutive failure (default 100). */
  readonly retryBackoffMs?: number;
  /** Cap of that wait, ms (default 5,000). */
  readonly maxRetryBackoffMs?: number;
  readonly logger?: StreamsLogger;
}

/** What members of a {@link MemoryLog} may do with it. */
interface LogAccess {
  messages(topic: string, partition: number): readonly Stored[];
  partitionCount(topic: string): number;
  resolveTopics(patterns: readonly (string | RegExp)[]): string[];
  committedOffset(groupId: string, topic: string, partition: number): number | undefined;
  commit(groupId: string, topic: string, partition: number, next: number): void;
  /** Registers a running member; `wake` is called after every append. */
  join(groupId: string, wake: () => void): void;
  leave(groupId: string, wake: () => void): void;
  appendAll(records: readonly SinkRecords[]): void;
}

interface Stored {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: number;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * An in-process log with Kafka's shape: topics of partitions of offset-ordered
 * messages, keyed placement with Kafka's murmur2 partitioner (so a stream gets
 * the same partition number as on Kafka with the same partition count), and
 * consumer groups with committed offsets. The one-process demo runs on it when
 * no Kafka is configured, and unit tests use it to drive the worker. Nothing
 * is persisted; a group has one member at a time, so there are no rebalances.
 */
export class MemoryLog {
  readonly #topics = new Map<string, Stored[][]>();
  /** groupId -> topic -> partition -> committed next offset. */
  readonly #groups = new Map<string, Map<string, Map<number, number>>>();
  readonly #members = new Set<string>();
  readonly #listeners = new Set<() => void>();
  readonly #roundRobin = new Map<string, number>();
  readonly #autoCreate: number | undefined;
  readonly #now: () => number;

  constructor(options: MemoryLogOptions = {}) {
    if (options.autoCreatePartitions !== undefined) checkPartitions('autoCreatePartitions', options.autoCreatePartitions);
    this.#autoCreate = options.autoCreatePartitions;
    this.#now = options.now ?? Date.now;
    for (const t of options.topics ?? []) this.createTopic(t.topic, t.partitions);
  }

  /** Creates a topic; a no-op when it exists with that many partitions, an error when with another count. */
  createTopic(topic: string, partitions: number): void {
    checkPartitions(`topic ${topic} partitions`, partitions);
    if (topic === '') throw new StreamcellError('config_invalid', 'topic name must not be empty');
    const existing = this.#topics.get(topic);
    if (existing !== undefined) {
      if (existing.length !== partitions) throw new StreamcellError('config_invalid', `topic ${topic} exists with ${existing.length} partitions, not ${partitions}`);
      return;
    }
    this.#topics.set(
      topic,
      Array.from({ length: partitions }, () => []),
    );
  }

  /** The in-memory counterpart of the Kafka `ensureTopics`: creates what is missing, reports what exists. */
  ensureTopics(specs: readonly Pick<TopicSpec, 'topic' | 'partitions'>[]): EnsureTopicsResult {
    const created: string[] = [];
    const existing: { topic: string; partitions: number }[] = [];
    for (const s of specs) {
      const have = this.#topics.get(s.topic);
      if (have !== undefined) existing.push({ topic: s.topic, partitions: have.length });
      else {
        this.createTopic(s.topic, s.partitions);
        created.push(s.topic);
      }
    }
    return { created, existing };
  }

  /** Topic names, sorted. */
  topics(): string[] {
    return [...this.#topics.keys()].sort();
  }

  /** Partition count of `topic`. */
  partitionCount(topic: string): number {
    return this.#partitionsOf(topic).length;
  }

  /** Offset the next message appended to this partition will get. */
  highWatermark(topic: string, partition: number): string {
    return String(this.#partition(topic, partition).length);
  }

  /**
   * Appends messages in order: a keyed message goes to the partition Kafka's
   * default partitioner would pick, a message without key round-robin, one
   * with `partition` there.
   */
  append(topic: string, messages: readonly AppendMessage[]): AppendResult[] {
    const parts = this.#writable(topic);
    const placed = messages.map((m) => ({ m, partition: this.#place(topic, parts.length, m) }));
    const results = placed.map(({ m, partition }) => {
      const log = parts[partition]!;
      log.push({
        key: toBuffer(m.key),
        value: toBuffer(m.value),
        timestamp: m.timestamp ?? this.#now(),
        headers: { ...(m.headers ?? {}) },
      });
      return { partition, offset: String(log.length - 1) };
    });
    if (results.length > 0) for (const wake of this.#listeners) wake();
    return results;
  }

  /** Every message of `topic`, partition by partition in offset order. */
  read(topic: string): InboundMessage[] {
    return this.#partitionsOf(topic).flatMap((log, partition) => log.map((s, offset) => toInbound(topic, partition, offset, s)));
  }

  /** The committed next offsets of `groupId`, as `{ topic: { partition: offset } }`. */
  committed(groupId: string): Record<string, Record<number, string>> {
    const out: Record<string, Record<number, string>> = {};
    for (const [topic, partitions] of this.#groups.get(groupId) ?? []) {
      out[topic] = Object.fromEntries([...partitions].map(([p, o]) => [p, String(o)]));
    }
    return out;
  }

  /** A consumer-group member reading `options.topics`; one running member per group. */
  source(options: MemorySourceOptions): Source {
    return new MemorySource(this.#access, options);
  }

  /** A producer appending to this log. */
  sink(): Sink {
    return new MemorySink(this.#access);
  }

  /** The members' view of the log: what sources and sinks need, kept off the public surface. */
  readonly #access: LogAccess = {
    messages: (topic, partition) => this.#partition(topic, partition),
    partitionCount: (topic) => this.#partitionsOf(topic).length,
    resolveTopics: (patterns) => {
      const out = new Set<string>();
      for (const p of patterns) {
        if (typeof p === 'string') {
          if (!this.#topics.has(p)) throw new StreamcellError('config_invalid', `cannot subscribe to ${p}: the topic does not exist (create it first)`);
          out.add(p);
        } else {
          for (const t of this.#topics.keys()) if (p.test(t)) out.add(t);
        }
      }
      return [...out].sort();
    },
    committedOffset: (groupId, topic, partition) => this.#groups.get(groupId)?.get(topic)?.get(partition),
    commit: (groupId, topic, partition, next) => {
      let group = this.#groups.get(groupId);
      if (group === undefined) this.#groups.set(groupId, (group = new Map<string, Map<number, number>>()));
      let t = group.get(topic);
      if (t === undefined) group.set(topic, (t = new Map<number, number>()));
      t.set(partition, next);
    },
    join: (groupId, wake) => {
      if (this.#members.has(groupId)) throw new StreamcellError('config_invalid', `group ${groupId} already has a running member; the memory log holds one member per group`);
      this.#members.add(groupId);
      this.#listeners.add(wake);
    },
    leave: (groupId, wake) => {
      this.#members.delete(groupId);
      this.#listeners.delete(wake);
    },
    appendAll: (records) => {
      // Every topic is checked and every packed record read first, so that a send appends all of its records or none.
      const all = records.map((r) => {
        this.#writable(r.topic);
        return { topic: r.topic, messages: isPacked(r) ? unpackMessages(r) : r.messages };
      });
      for (const r of all) this.append(r.topic, r.messages);
    },
  };

  #partitionsOf(topic: string): Stored[][] {
    const parts = this.#topics.get(topic);
    if (parts === undefined) throw new StreamcellError('config_invalid', `topic ${topic} does not exist`);
    return parts;
  }

  #partition(topic: string, partition: number): Stored[] {
    const log = this.#partitionsOf(topic)[partition];
    if (log === undefined) throw new StreamcellError('config_invalid', `topic ${topic} has no partition ${partition}`);
    return log;
  }

  #writable(topic: string): Stored[][] {
    if (!this.#topics.has(topic) && this.#autoCreate !== undefined) this.createTopic(topic, this.#autoCreate);
    return this.#partitionsOf(topic);
  }

  #place(topic: string, count: number, m: AppendMessage): number {
    if (m.partition !== undefined) {
      if (!Number.isInteger(m.partition) || m.partition < 0 || m.partition >= count) throw new StreamcellError('config_invalid', `topic ${topic} has no partition ${m.partition}`);
      return m.partition;
    }
    if (m.key !== null && m.key !== undefined) return partitionForKey(m.key, count);
    const next = this.#roundRobin.get(topic) ?? 0;
    this.#roundRobin.set(topic, next + 1);
    return next % count;
  }
}

type Lifecycle = 'idle' | 'running' | 'stopping' | 'stopped';

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to deliver. */
  position: number;
  /** Where a partition without commits is read again from after a throw. */
  readonly start: number;
  inFlight: boolean;
  failures: number;
  retryAt: number;
}

/** A group member on a {@link MemoryLog}: every partition of its topics, since it is the only member. */
class MemorySource implements Source {
  readonly #log: LogAccess;
  readonly #options: MemorySourceOptions;
  readonly #logger: StreamsLogger;
  readonly #maxBatch: number;
  readonly #backoff: number;
  readonly #maxBackoff: number;
  #state: Lifecycle = 'idle';
  #partitions: PartitionState[] = [];
  #assignments: ReadonlyMap<string, readonly number[]> = new Map();
  #cursor = 0;
  #workers: Promise<void>[] = [];
  #signal = deferred();
  readonly #wake = (): void => {
    const s = this.#signal;
    this.#signal = deferred();
    s.resolve();
  };

  constructor(log: LogAccess, options: MemorySourceOptions) {
    if (typeof options.groupId !== 'string' || options.groupId === '') throw new StreamcellError('config_invalid', 'groupId must be a non-empty string');
    if (!Array.isArray(options.topics) || options.topics.length === 0) throw new StreamcellError('config_invalid', 'a source needs at least one topic');
    this.#maxBatch = positiveInt('maxBatchSize', options.maxBatchSize, 500);
    positiveInt('partitionsConsumedConcurrently', options.partitionsConsumedConcurrently, 1);
    this.#backoff = positiveInt('retryBackoffMs', options.retryBackoffMs, 100);
    this.#maxBackoff = positiveInt('maxRetryBackoffMs', options.maxRetryBackoffMs, 5_000);
    this.#log = log;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  async start(handler: BatchHandler): Promise<void> {
    await Promise.resolve();
    if (this.#state !== 'idle') throw new StreamcellError('internal', `source start called in state ${this.#state}; a source starts once`);
    const { groupId } = this.#options;
    const topics = this.#log.resolveTopics(this.#options.topics);
    this.#log.join(groupId, this.#wake);
    const assignments = new Map<string, number[]>();
    for (const topic of topics) {
      const count = this.#log.partitionCount(topic);
      assignments.set(
        topic,
        Array.from({ length: count }, (_, p) => p),
      );
      for (let partition = 0; partition < count; partition++) {
        // Kafka's auto.offset.reset: earliest or latest when the group has no commit.
        const start = this.#log.committedOffset(groupId, topic, partition) ?? (this.#options.fromBeginning === true ? 0 : this.#log.messages(topic, partition).length);
        this.#partitions.push({ topic, partition, position: start, start, inFlight: false, failures: 0, retryAt: 0 });
      }
    }
    this.#assignments = assignments;
    this.#state = 'running';
    const n = this.#options.partitionsConsumedConcurrently ?? 1;
    // Deferred so that #workers is set before any handler runs: a handler may call stop(), which awaits them.
    this.#workers = Array.from({ length: n }, () => Promise.resolve().then(() => this.#work(handler)));
    this.#logger.info({ groupId, assignments: Object.fromEntries(assignments) }, 'memory source running');
  }

  async stop(): Promise<void> {
    if (this.#state === 'idle') {
      this.#state = 'stopped';
      return;
    }
    if (this.#state === 'running') {
      this.#state = 'stopping';
      this.#wake();
    }
    await Promise.all(this.#workers);
    if (this.#state === 'stopping') {
      this.#log.leave(this.#options.groupId, this.#wake);
      this.#assignments = new Map();
      this.#state = 'stopped';
    }
  }

  assignments(): ReadonlyMap<string, readonly number[]> {
    return this.#assignments;
  }

  lag(): readonly PartitionLag[] {
    if (this.#state !== 'running' && this.#state !== 'stopping') return [];
    return this.#partitions.map((p) => {
      const hw = this.#log.messages(p.topic, p.partition).length;
      const committed = this.#log.committedOffset(this.#options.groupId, p.topic, p.partition) ?? p.start;
      return { topic: p.topic, partition: p.partition, highWatermark: String(hw), committed: String(committed), lag: Math.max(0, hw - committed) };
    });
  }

  async #work(handler: BatchHandler): Promise<void> {
    while (this.#state === 'running') {
      const signal = this.#signal.promise;
      const p = this.#next();
      if (p === null) {
        await this.#idle(signal);
        continue;
      }
      p.inFlight = true;
      try {
        await this.#deliver(p, handler);
      } finally {
        p.inFlight = false;
      }
    }
  }

  /** The next partition with messages to deliver, round-robin so that no partition starves. */
  #next(): PartitionState | null {
    const now = Date.now();
    const n = this.#partitions.length;
    for (let i = 0; i < n; i++) {
      const p = this.#partitions[(this.#cursor + i) % n]!;
      if (p.inFlight || p.retryAt > now || p.position >= this.#log.messages(p.topic, p.partition).length) continue;
      this.#cursor = (this.#cursor + i + 1) % n;
      return p;
    }
    return null;
  }

  /** Sleeps until an append, a stop, or the earliest redelivery time. */
  async #idle(signal: Promise<void>): Promise<void> {
    const now = Date.now();
    const waits = this.#partitions.filter((p) => !p.inFlight && p.retryAt > now).map((p) => p.retryAt - now);
    if (waits.length === 0) {
      await signal;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([signal, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(...waits))))]);
    clearTimeout(timer);
  }

  async #deliver(p: PartitionState, handler: BatchHandler): Promise<void> {
    const { groupId } = this.#options;
    const log = this.#log.messages(p.topic, p.partition);
    const from = p.position;
    const to = Math.min(log.length, from + this.#maxBatch);
    const batch: InboundBatch = {
      topic: p.topic,
      partition: p.partition,
      highWatermark: String(log.length),
      messages: log.slice(from, to).map((s, i) => toInbound(p.topic, p.partition, from + i, s)),
    };
    const control: BatchControl = {
      heartbeat: () => Promise.resolve(),
      isRunning: () => this.#state === 'running',
      // One member per group: nothing can take a partition away.
      isStale: () => false,
      commit: (nextOffset: string) => {
        const next = Number(nextOffset);
        if (!/^(0|[1-9][0-9]*)$/.test(nextOffset) || next < from || next > to) {
          return Promise.reject(new StreamcellError('internal', `commit ${nextOffset} is outside batch ${p.topic}/${p.partition} [${from}, ${to}]`));
        }
        this.#log.commit(groupId, p.topic, p.partition, next);
        return Promise.resolve();
      },
    };
    try {
      await handler(batch, control);
    } catch (err) {
      const committed = this.#log.committedOffset(groupId, p.topic, p.partition) ?? p.start;
      p.position = committed;
      p.failures += 1;
      const wait = Math.min(this.#maxBackoff, this.#backoff * 2 ** (p.failures - 1));
      p.retryAt = Date.now() + wait;
      this.#logger.error(
        { topic: p.topic, partition: p.partition, firstOffset: String(from), lastOffset: String(to - 1), committed: String(committed), retryInMs: wait, err },
        'batch handler failed; the partition is read again from its last commit',
      );
      return;
    }
    // As with Kafka: a handler that returned has handled the batch, whatever it committed.
    p.position = to;
    p.failures = 0;
    p.retryAt = 0;
  }
}

/** A producer on a {@link MemoryLog}. */
class MemorySink implements Sink {
  readonly #log: LogAccess;
  #connected = false;

  constructor(log: LogAccess) {
    this.#log = log;
  }

  connect(): Promise<void> {
    this.#connected = true;
    return Promise.resolve();
  }

  send(records: readonly SinkRecords[], options: SendOptions = {}): Promise<void> {
    // Appends at once, so a send is only withdrawn when aborted before it is made.
    if (options.signal?.aborted) return Promise.reject(new SendWithdrawnError());
    if (records.every((r) => messageCount(r) === 0)) return Promise.resolve();
    // Same contract as KafkaSink, so that a lifecycle bug shows up in the demo too.
    if (!this.#connected) return Promise.reject(new StreamcellError('internal', 'sink send called before connect() or after disconnect()'));
    try {
      this.#log.appendAll(records);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return Promise.resolve();
  }

  disconnect(): Promise<void> {
    this.#connected = false;
    return Promise.resolve();
  }
}

function toBuffer(v: Buffer | string | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

function toInbound(topic: string, partition: number, offset: number, s: Stored): InboundMessage {
  return { topic, partition, offset: String(offset), key: s.key, value: s.value, timestamp: s.timestamp, headers: s.headers };
}

function checkPartitions(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new StreamcellError('config_invalid', `${what} must be a positive integer, got ${n}`);
}

function positiveInt(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v <= 0) throw new StreamcellError('config_invalid', `${name} must be a positive integer, got ${v}`);
  return v;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
