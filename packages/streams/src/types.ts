/**
 * The two sides of the log the worker talks to, behind small interfaces so
 * that the same worker runs on Kafka (kafkajs) or on the in-memory log of the
 * one-process demo.
 */
import type { PackedMessages } from './packed.ts';

/** A message as consumed. Offsets are 64-bit decimal strings, as Kafka and kafkajs give them. */
export interface InboundMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Append (or create) time from the log, epoch ms. */
  readonly timestamp: number;
  readonly headers: Readonly<Record<string, string>>;
}

/** A run of consecutive messages from one partition, in offset order. */
export interface InboundBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly InboundMessage[];
  /** Offset of the next message the log will append to this partition (for lag). */
  readonly highWatermark: string;
}

/** What a batch handler may do while it works. */
export interface BatchControl {
  /** Keeps group membership alive during long work; throws when the group rebalanced. */
  heartbeat(): Promise<void>;
  /** False once the source is stopping: finish quickly. */
  isRunning(): boolean;
  /** True when a rebalance took this partition away: the rest of the batch must be dropped. */
  isStale(): boolean;
  /**
   * Commits `nextOffset` (the offset of the next message to read, i.e. the
   * last handled offset + 1) for the batch's partition in the consumer group.
   */
  commit(nextOffset: string): Promise<void>;
}

/** A batch handler. Throwing means "not handled": the source re-delivers from the last commit. */
export type BatchHandler = (batch: InboundBatch, control: BatchControl) => Promise<void>;

/** A consumer-group subscription. */
export interface Source {
  /** Joins the group and calls `handler` for each batch until `stop`. Resolves once running. */
  start(handler: BatchHandler): Promise<void>;
  /** Finishes the batch in hand, leaves the group, disconnects. */
  stop(): Promise<void>;
  /** Partitions currently assigned to this member, by topic. */
  assignments(): ReadonlyMap<string, readonly number[]>;
  /**
   * Consumer lag of the assigned partitions this member has seen data on
   * (high watermark minus the committed next offset), for a lag metric.
   */
  lag?(): readonly PartitionLag[];
}

/** How far a group's commits trail the end of one partition. */
export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  /** Offset the log will give its next message, as of the latest batch. */
  readonly highWatermark: string;
  /**
   * The group's committed next offset; before this member's first commit on the
   * partition, the first offset it was handed (what the group had committed then).
   */
  readonly committed: string;
  /** `highWatermark - committed`, at least 0. */
  readonly lag: number;
}

/** A message to produce. Kafka key = stream id, so one stream stays on one partition. */
export interface OutboundMessage {
  readonly key: Buffer | string | null;
  readonly value: Buffer | string | null;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Messages for one topic. */
export interface OutboundRecords {
  readonly topic: string;
  readonly messages: readonly OutboundMessage[];
}

/** Options of {@link Sink.send}. */
export interface SendOptions {
  /**
   * Aborting withdraws the send if it is still waiting for its turn: it then
   * rejects with {@link SendWithdrawnError} and nothing of it was written.
   * Once its request has gone out, aborting changes nothing.
   */
  readonly signal?: AbortSignal;
}

/** What a sink sends: messages for a topic, as objects or packed (see packed.ts). */
export type SinkRecords = OutboundRecords | PackedMessages;

/** A producer: idempotent, acks from all in-sync replicas. */
export interface Sink {
  connect(): Promise<void>;
  /** Sends everything in one request where the client allows; resolves once all are acknowledged. */
  send(records: readonly SinkRecords[], options?: SendOptions): Promise<void>;
  disconnect(): Promise<void>;
}

/** A send withdrawn through its abort signal before any of it went out: none of its messages were written. */
export class SendWithdrawnError extends Error {
  constructor() {
    super('the send was withdrawn before it went out; nothing of it was written');
    this.name = 'SendWithdrawnError';
  }
}
