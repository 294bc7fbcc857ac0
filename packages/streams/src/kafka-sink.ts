import { createRequire } from 'node:module';
import type { Kafka, Message, Producer, RetryOptions } from 'kafkajs';
import { sendAsGroup, type GroupMember } from './group-request.ts';
import { createMurmur2Partitioner } from './murmur2.ts';
import { StreamcellError } from '@streamcell/protocol';
import { createKafkaClient, findCause, kafkaUnavailable, type KafkaConnectionOptions } from './kafka-client.ts';
import { silentLogger, type StreamsLogger } from './logger.ts';
import { isPacked, messageCount, type PackedMessages } from './packed.ts';
import { SendWithdrawnError, type OutboundMessage, type SendOptions, type Sink, type SinkRecords } from './types.ts';

/** Settings of a {@link KafkaSink}. */
export interface KafkaSinkOptions extends KafkaConnectionOptions {
  /**
   * Retry policy of sends. Left unset, kafkajs retries an idempotent
   * producer's sends without limit (backoff capped at 30 s), so `send` waits
   * out a Kafka outage rather than failing; set `retries` to bound that.
   */
  readonly sendRetry?: RetryOptions;
  /** Broker-side wait for the in-sync replicas' acknowledgement, ms (kafkajs default 30,000). */
  readonly ackTimeoutMs?: number;
  /**
   * Most estimated bytes per `sendBatch` call (default 768 KiB), kept
   * below the broker's `message.max.bytes` (1 MiB by default), since one
   * call's messages for one partition travel as one record batch.
   */
  readonly maxBatchBytes?: number;
}

const DEFAULT_MAX_BATCH_BYTES = 768 * 1024;
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
/** Per-record framing in a v2 record batch: length, attributes, deltas and varint lengths, rounded up. */
const RECORD_OVERHEAD = 24;
const HEADER_OVERHEAD = 8;

/** Whether the installed kafkajs carries the local patch's packed messages (producer/packedMessages.js). */
const KAFKAJS_TAKES_PACKED = ((): boolean => {
  try {
    createRequire(import.meta.url).resolve('kafkajs/src/producer/packedMessages.js');
    return true;
  } catch {
    return false;
  }
})();

/**
 * A {@link Sink} on a kafkajs idempotent producer: acks from all in-sync
 * replicas, one request in flight per broker (so retries cannot reorder a
 * stream's messages), and Kafka's Java-compatible murmur2 partitioner named
 * explicitly, so that a stream id lands on the same partition whichever
 * client wrote it.
 */
export class KafkaSink implements Sink {
  readonly #options: KafkaSinkOptions;
  readonly #logger: StreamsLogger;
  readonly #kafka: Kafka;
  readonly #producer: Producer;
  readonly #maxBatchBytes: number;
  #connected = false;
  #requests = 0;
  /** Sends waiting for the one in flight; see {@link KafkaSink.send}. */
  readonly #waiting: PendingSend[] = [];
  #flushing = false;

  constructor(options: KafkaSinkOptions) {
    if (options.maxBatchBytes !== undefined && (!Number.isInteger(options.maxBatchBytes) || options.maxBatchBytes <= 0)) {
      throw new StreamcellError('config_invalid', `KafkaSink maxBatchBytes must be a positive integer, got ${options.maxBatchBytes}`);
    }
    this.#options = options;
    this.#maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    this.#logger = options.logger ?? silentLogger;
    this.#kafka = createKafkaClient(options, this.#logger);
    this.#producer = this.#kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      // kafkajs' DefaultPartitioner's choices (Java's murmur2), computed without its Long objects.
      createPartitioner: createMurmur2Partitioner(),
      // Producing to a missing topic is a deployment error, not a reason to create one with broker defaults.
      allowAutoTopicCreation: false,
      ...(options.sendRetry === undefined ? {} : { retry: options.sendRetry }),
    });
  }

  /** Connects and obtains the idempotent producer id. */
  async connect(): Promise<void> {
    try {
      await this.#producer.connect();
      this.#connected = true;
      this.#logger.info({ clientId: this.#options.clientId }, 'Kafka sink connected');
    } catch (err) {
      throw kafkaUnavailable('cannot connect the producer to Kafka', err, this.#options.brokers);
    }
  }

  /**
   * Sends the records and resolves once every message is acknowledged by all
   * in-sync replicas. Normally that is one `sendBatch` call for all topics
   * (one produce request per broker). kafkajs puts all of a call's messages
   * for one partition into one record batch, and the broker rejects a batch
   * above `message.max.bytes` (1 MiB by default). So a larger send, such as
   * a worker catching up, is cut into consecutive calls of at most
   * `maxBatchBytes`. Each partition keeps its order.
   *
   * The idempotent producer has one request in flight, so sends from
   * partitions handled concurrently would queue behind each other, one round
   * trip each. Instead, a send goes out after the current turn of the event
   * loop, and sends that arrive by then or while one is in flight are merged,
   * in arrival order and up to `maxBatchBytes`, into the next request (a
   * group commit). When a merged request fails, each caller's records are
   * sent again on their own, so a failure reaches only the caller it belongs
   * to; partitions the failed request did write then hold those messages
   * twice, with the same content, which at-least-once delivery allows.
   */
  send(records: readonly SinkRecords[], options: SendOptions = {}): Promise<void> {
    const total = countMessages(records);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new SendWithdrawnError());
    if (total === 0) return Promise.resolve();
    if (!this.#connected) return Promise.reject(new StreamcellError('internal', 'KafkaSink.send called before connect() or after disconnect()'));
    // Unpatched kafkajs would write a packed record as one record with no key and no value.
    if (!KAFKAJS_TAKES_PACKED && records.some(isPacked)) {
      return Promise.reject(new StreamcellError('internal', 'kafkajs is installed without the streamcell patch (patches/kafkajs@2.2.4.patch), so it cannot send packed messages; install with pnpm, which applies it'));
    }
    return new Promise<void>((resolve, reject) => {
      const sizes = messageSizes(records, total);
      const pending: PendingSend = { records, sizes, bytes: sizes.reduce((n, b) => n + b, 0), resolve, reject };
      if (signal !== undefined) {
        // Still waiting when aborted: take it out of the queue; nothing of it was sent.
        const withdraw = (): void => {
          const at = this.#waiting.indexOf(pending);
          if (at < 0) return;
          this.#waiting.splice(at, 1);
          reject(new SendWithdrawnError());
        };
        signal.addEventListener('abort', withdraw, { once: true });
        pending.release = () => signal.removeEventListener('abort', withdraw);
      }
      this.#waiting.push(pending);
      if (!this.#flushing) {
        // Dispatch after this turn of the event loop: the sends of partition batches that became
        // ready together (one Redis reply resumes them all) then leave in one request, not two.
        this.#flushing = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#waiting.length > 0) {
      const group = this.#waiting.splice(0, this.#mergeable());
      // Dispatched: an abort can no longer withdraw these.
      for (const g of group) g.release?.();
      await sendAsGroup(group, (parts) => this.#sendNow(parts));
    }
    this.#flushing = false;
  }

  /** How many waiting sends fit in one request (at least one). */
  #mergeable(): number {
    let bytes = 0;
    for (let i = 0; i < this.#waiting.length; i++) {
      bytes += this.#waiting[i]!.bytes;
      if (bytes > this.#maxBatchBytes) return Math.max(1, i);
    }
    return this.#waiting.length;
  }

  /** Sends the records of `parts` in as few `sendBatch` calls as {@link chunkRecords} allows. */
  async #sendNow(parts: readonly PendingSend[]): Promise<void> {
    const records = parts.length === 1 ? parts[0]!.records : parts.flatMap((g) => g.records);
    const total = countMessages(records);
    const bytes = parts.reduce((n, g) => n + g.bytes, 0);
    // Most sends fit in one call: the messages then go as they are, without being copied again. Merged sends
    // stay within the budget (#mergeable), so one to cut is a single send, measured when it was queued.
    const chunks = bytes <= this.#maxBatchBytes ? [byTopic(records)] : chunkRecords(records, this.#maxBatchBytes, parts.length === 1 ? parts[0]!.sizes : undefined);
    for (const chunk of chunks) {
      this.#requests += 1;
      try {
        await this.#producer.sendBatch({
          topicMessages: chunk,
          acks: -1,
          ...(this.#options.ackTimeoutMs === undefined ? {} : { timeout: this.#options.ackTimeoutMs }),
        });
      } catch (err) {
        const what = `send of ${total} messages to ${[...new Set(records.map((r) => r.topic))].join(', ')}`;
        // One message above the broker's limit fails the same way however often it is retried.
        if (findCause(err, (e) => TOO_LARGE.has(String((e as { type?: unknown }).type))) !== undefined) {
          throw new StreamcellError('too_large', `${what} failed: a message exceeds the broker's size limit`, { cause: err });
        }
        throw kafkaUnavailable(`${what} failed`, err);
      }
    }
  }

  /** `sendBatch` calls made so far (each is one produce request per broker); for tests and metrics. */
  get requestsSent(): number {
    return this.#requests;
  }

  /** Closes the connections. kafkajs does not wait for sends in flight: await them first. */
  async disconnect(): Promise<void> {
    this.#connected = false;
    try {
      await this.#producer.disconnect();
    } catch (err) {
      throw kafkaUnavailable('Kafka producer did not disconnect cleanly', err, this.#options.brokers);
    }
  }
}

type TopicMessages = { topic: string; messages: Message[] };

interface PendingSend extends GroupMember {
  readonly records: readonly SinkRecords[];
  /** {@link estimateBytes} of each of its messages, in order, measured once when it was queued. */
  readonly sizes: Uint32Array;
  /** Their sum. */
  readonly bytes: number;
  /** Stops listening to the send's abort signal, once it is dispatched. */
  release?: () => void;
}

/**
 * Cuts records, in order, into runs of at most `budget` estimated bytes (a
 * single larger message travels alone); packed messages are cut between
 * messages like the others. Every run groups its messages by topic, so one
 * run is one `sendBatch` call.
 */
export function chunkRecords(records: readonly SinkRecords[], budget: number, sizes: ArrayLike<number> = messageSizes(records)): TopicMessages[][] {
  const chunks: TopicMessages[][] = [];
  let chunk: TopicMessages[] = [];
  let bytes = 0;
  let at = 0;
  const groupOf = (topic: string): Message[] => {
    let group = chunk.find((t) => t.topic === topic);
    if (group === undefined) chunk.push((group = { topic, messages: [] }));
    return group.messages;
  };
  const next = (): void => {
    chunks.push(chunk);
    chunk = [];
    bytes = 0;
  };
  for (const r of records) {
    if (isPacked(r)) {
      const n = r.keyHashes.length;
      let from = 0;
      for (let i = 0; i < n; i++) {
        const size = sizes[at++]!;
        if (bytes > 0 && bytes + size > budget) {
          if (i > from) groupOf(r.topic).push(packedMessage(r, from, i));
          from = i;
          next();
        }
        bytes += size;
      }
      if (n > from) groupOf(r.topic).push(packedMessage(r, from, n));
      continue;
    }
    for (const m of r.messages) {
      const size = sizes[at++]!;
      if (bytes > 0 && bytes + size > budget) next();
      groupOf(r.topic).push(m);
      bytes += size;
    }
  }
  if (bytes > 0) chunks.push(chunk);
  return chunks;
}

/**
 * Messages `from` to `to` (exclusive) of `packed` as the one pseudo-message
 * the kafkajs patch takes for them (producer/packedMessages.js); the bytes
 * are not copied.
 */
function packedMessage(packed: PackedMessages, from = 0, to = packed.keyHashes.length): Message {
  const whole = from === 0 && to === packed.keyHashes.length;
  const part = {
    bytes: packed.bytes,
    bounds: whole ? packed.bounds : packed.bounds.subarray(from, to + 1),
    keyHashes: whole ? packed.keyHashes : packed.keyHashes.subarray(from, to),
  };
  return { value: null, streamcellPacked: part } as unknown as Message;
}

/** The records as one `sendBatch` call's topic messages, in order; the messages themselves are not copied (kafkajs only reads them). */
function byTopic(records: readonly SinkRecords[]): TopicMessages[] {
  const topics: TopicMessages[] = [];
  for (const r of records) {
    if (messageCount(r) === 0) continue;
    let group = topics.find((t) => t.topic === r.topic);
    if (group === undefined) topics.push((group = { topic: r.topic, messages: [] }));
    if (isPacked(r)) group.messages.push(packedMessage(r));
    else for (const m of r.messages) group.messages.push(m);
  }
  return topics;
}

/** How many messages `records` hold. */
function countMessages(records: readonly SinkRecords[]): number {
  let n = 0;
  for (const r of records) n += messageCount(r);
  return n;
}

/** {@link estimateBytes} of every message of `records`, in order (a packed message: its bytes and the record framing). */
function messageSizes(records: readonly SinkRecords[], total = countMessages(records)): Uint32Array {
  const sizes = new Uint32Array(total);
  let at = 0;
  for (const r of records) {
    if (isPacked(r)) {
      const { bounds } = r;
      for (let i = 0; i + 1 < bounds.length; i++) sizes[at++] = RECORD_OVERHEAD + bounds[i + 1]! - bounds[i]!;
    } else for (const m of r.messages) sizes[at++] = estimateBytes(m);
  }
  return sizes;
}

function estimateBytes(m: OutboundMessage): number {
  let n = RECORD_OVERHEAD + byteLength(m.key) + byteLength(m.value);
  const headers = m.headers;
  if (headers !== undefined) {
    for (const k in headers) n += HEADER_OVERHEAD + utf8Length(k) + utf8Length(headers[k]!);
  }
  return n;
}

function byteLength(v: Buffer | string | null): number {
  if (v === null) return 0;
  return typeof v === 'string' ? utf8Length(v) : v.length;
}

/** Strings up to this many UTF-16 units are measured here; longer ones by Buffer.byteLength. */
const SHORT_STRING = 64;

/**
 * UTF-8 bytes of a string, as Buffer.byteLength counts them (a lone surrogate
 * is 3 bytes, its replacement character's). Short strings (keys, header
 * values: three per forecast) are counted in JavaScript, which costs less
 * than the call into the runtime.
 */
export function utf8Length(s: string): number {
  if (s.length > SHORT_STRING) return Buffer.byteLength(s, 'utf8');
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A surrogate pair: 4 bytes for its 2 units.
      n += 2;
      i += 1;
    } else n += 2;
  }
  return n;
}
