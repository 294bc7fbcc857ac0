/**
 * Partition batches through the data path (docs/architecture.md):
 *
 *   decode -> group by (model, stream) -> load all states (one round trip)
 *   -> skip what the state already holds -> step in waves across streams
 *   -> publish forecasts and dead letters (one send) -> save with
 *   compare-and-set (one round trip; conflicts are reloaded and redone)
 *   -> commit.
 *
 * Small batches that arrive together (one fetch's partitions, when the
 * worker keeps up with its input and each holds a few events) go through
 * that path as one group: one load, one step job per model, one send and
 * one save for all of them, then each partition's commit. A group never
 * holds two batches of one partition, and takes at most {@link GROUP_EVENTS}
 * events (a larger batch goes alone), so a backlog's large batches still go
 * one by one.
 *
 * Bad data never throws out of here: it becomes a dead letter. What does
 * throw leaves batches uncommitted, so the source delivers them again and
 * the state protocol makes the replay harmless for streams keyed to one
 * partition. A failure every batch would share (Redis or Kafka
 * unavailable, see {@link sharedFailure}) gives the whole group back; any
 * other has the group's batches go through again one by one, so that only
 * those it belongs to are given back.
 */
import {
  DEAD_LETTER_CODES,
  EventScanner,
  deadLetter,
  deadLetterTopic,
  decodeEvent,
  isStreamcellError,
  readFeatureValues,
  type DeadLetterCode,
} from '@streamcell/protocol';
import { routeModel } from '@streamcell/model';
import { findCause, isGroupChange, sendAsGroup, type BatchControl, type InboundBatch, type InboundMessage, type OutboundMessage, type PackedMessages, type Sink, type SinkRecords } from '@streamcell/streams';
import type { Logger, WorkerMetrics } from '@streamcell/telemetry';
import type { ActiveStreams } from './active-streams.ts';
import type { WorkerConfig } from './config.ts';
import type { ModelSnapshot, ServingModel } from './models.ts';
import { END, RESET, type EventSource, type StepJob } from './step-job.ts';
import { StepRunner, type StepResult } from './step-runner.ts';
import {
  SAVE_RESULT,
  decodeRecord,
  encodeRecord,
  fnv1a32,
  guardOf,
  stateKey,
  type ErrorSums,
  type StateStore,
} from '@streamcell/state';

/** The settings a pipeline uses. */
export type PipelineConfig = Pick<
  WorkerConfig,
  'forecastsTopic' | 'topicModels' | 'defaultModel' | 'acceptOutOfOrder' | 'stateTtlMs' | 'stateKeyPrefix' | 'maxEventBytes' | 'deadLetterMaxBytes'
>;

/** What a pipeline is wired to. */
export interface PipelineDeps {
  readonly store: StateStore;
  readonly sink: Sink;
  readonly models: () => ModelSnapshot;
  readonly metrics: WorkerMetrics;
  readonly log: Logger;
  readonly config: PipelineConfig;
  readonly now?: () => number;
  /** Told of every stream stepped, for the active-streams gauge. */
  readonly activeStreams?: ActiveStreams;
  /** Runs the step jobs (default: all in this thread). */
  readonly steps?: StepRunner;
}

const NO_FLOATS = new Float32Array(0);

/** Compare-and-set rounds before a group gives up (its batches then go through one by one; see #flush). */
const MAX_SAVE_ATTEMPTS = 5;

/**
 * Most events in a group of batches: batches arriving together are handled
 * together up to this many; a batch that would go past it waits for the
 * next group, and a larger one goes alone.
 */
export const GROUP_EVENTS = 1024;

/** Events from which a group waits for a turn of the event loop of its own to decode (see #decodeTurn). */
const OWN_TURN_EVENTS = 256;

/** A batch waiting for its group, and the caller waiting for it. */
interface Queued {
  readonly batch: InboundBatch;
  readonly control: BatchControl;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

interface PendingEvent {
  readonly msg: InboundMessage;
  /** Hash of the source topic, as stored in the state record's guard. */
  readonly topicHash: number;
  /** Index of the event's partition in its group's sources. */
  readonly source: number;
  readonly offset: number;
  readonly ts: number;
  readonly reset: boolean;
  readonly end: boolean;
  /** The batch's rows; this event's values start at `row`. */
  readonly rows: RowBlock;
  readonly row: number;
}

/** A batch's events' values, one row after another (each row its model's inputSize long); grown as events are read. */
interface RowBlock {
  /** Feature values in raw units (actuals are read from here). */
  raw: Float64Array;
  /** Scaled inputs, float32 as the kernel takes them. */
  scaled: Float32Array;
}

/** Makes room in `rows` for values up to `end`, keeping those written. */
function reserveRows(rows: RowBlock, end: number, hint: number): void {
  if (end <= rows.raw.length) return;
  const size = Math.max(end, hint, 2 * rows.raw.length);
  const raw = new Float64Array(size);
  const scaled = new Float32Array(size);
  raw.set(rows.raw);
  scaled.set(rows.scaled);
  rows.raw = raw;
  rows.scaled = scaled;
}

interface StreamWork {
  readonly key: string;
  readonly stream: string;
  readonly model: ServingModel;
  readonly events: PendingEvent[];
  // From the stored record, refreshed on every (re)load.
  loadedGuard: Buffer | null;
  hasRecord: boolean;
  state: Float32Array;
  history: Float32Array;
  known: number;
  topicHash: number;
  partition: number;
  offset: number;
  lastTs: number;
  steps: number;
  deleted: boolean;
  readonly toApply: PendingEvent[];
}

interface Outgoing {
  /** The forecasts, packed by the step jobs (one per job). */
  readonly forecasts: PackedMessages[];
  readonly deadLetters: Map<string, OutboundMessage[]>;
  /** Event and append times of the forecasts, for the latency metrics. */
  readonly times: number[];
  /** Forecasts per model name. */
  readonly perModel: Map<string, number>;
  /** Dead letters per code, counted once they are sent. */
  readonly deadLetterCodes: Map<DeadLetterCode, number>;
}

/** A step job and what its results are matched against. */
interface BuiltJob {
  readonly model: ServingModel;
  /** The streams, in the job's stream order. */
  readonly list: StreamWork[];
  /** The events in the job's order, and the index in `list` of each one's stream. */
  readonly events: PendingEvent[];
  readonly owners: Int32Array;
  readonly job: StepJob;
}

function newOutgoing(): Outgoing {
  return { forecasts: [], deadLetters: new Map(), times: [], perModel: new Map(), deadLetterCodes: new Map() };
}

/** Handles partition batches; one instance per worker, shared by all partitions. */
export class BatchPipeline {
  readonly #d: PipelineDeps;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #steps: StepRunner;
  /** Error sums of saved batches not yet in the score counters (they are added when those are read). */
  readonly #unreportedScores = new Map<ServingModel, ErrorSums>();
  /** Batches waiting for their group to go, and how many events they hold. */
  #queue: Queued[] = [];
  #queuedEvents = 0;
  #flushScheduled = false;
  /** The latest group's turn to decode, and how many groups were given a turn and have not decoded yet; see {@link BatchPipeline.#decodeTurn}. */
  #lastDecodeTurn: Promise<void> = Promise.resolve();
  #turnsWaiting = 0;
  /** Reads events on the fast path (see {@link #read}). */
  readonly #scanner = new EventScanner();
  /** What {@link #read} read last: one object, rewritten per event. */
  readonly #event = { stream: '', ts: 0, reset: false, end: false };
  /** A group's latencies, in seconds, on their way into the histograms. */
  #latencies = new Float64Array(1024);

  constructor(deps: PipelineDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#log = deps.log.child({ component: 'pipeline' });
    this.#steps = deps.steps ?? new StepRunner({ thread: false, log: deps.log });
    deps.metrics.beforeScoresCollect.add(() => this.#reportScores());
  }

  /**
   * Runs one batch end to end, in a group with the batches that arrive with
   * it (see the file comment), and commits it. Resolves once it is committed
   * (or left to the partition's new owner); rejects when it was not handled.
   */
  handle(batch: InboundBatch, control: BatchControl): Promise<void> {
    if (batch.messages.length === 0) return Promise.resolve();
    // Two batches of one partition never share a group: the later one may be a redelivery of the earlier (after a rebalance).
    if (this.#queue.some((q) => q.batch.partition === batch.partition && q.batch.topic === batch.topic)) this.#flush();
    // Nor does a group grow past GROUP_EVENTS with a batch that would not fit: the queued ones go first.
    else if (this.#queuedEvents + batch.messages.length > GROUP_EVENTS) this.#flush();
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ batch, control, resolve, reject });
      this.#queuedEvents += batch.messages.length;
      if (this.#queuedEvents >= GROUP_EVENTS) this.#flush();
      else if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        // After the callbacks of this turn of the event loop: a fetch's batches are all handed over by then.
        setImmediate(() => {
          this.#flushScheduled = false;
          this.#flush();
        });
      }
    });
  }

  /** Sends the queued batches through as one group (and one by one if the group fails for what may be only some of theirs). */
  #flush(): void {
    const group = this.#queue;
    if (group.length === 0) return;
    this.#queue = [];
    this.#queuedEvents = 0;
    // Counted once per delivery, not again if the group's batches go through one by one below.
    const { metrics } = this.#d;
    metrics.batchGroupSize.observe(group.length);
    for (const { batch } of group) {
      metrics.batchSize.observe(batch.messages.length);
      metrics.eventsIn.inc({ topic: batch.topic }, batch.messages.length);
    }
    // When the group fails for a reason that may be one batch's alone (its dead-letter topic refused, a
    // model failing, one partition's streams conflicting MAX_SAVE_ATTEMPTS times), its batches go through
    // again one by one in order, so that only those it belongs to are given back; see sharedFailure.
    const members = group.map((q) => ({
      q,
      resolve: () => this.#commit(q.batch, q.control).then(q.resolve, q.reject),
      reject: (err: unknown) => q.reject(err),
    }));
    let failed = false;
    void sendAsGroup(
      members,
      async (parts) => {
        if (parts.length === 1 && failed && parts[0]!.q.control.isStale()) return; // its commit is left to the new owner
        return this.#handleGroup(parts.map((m) => m.q));
      },
      (err) => {
        failed = true;
        const shared = sharedFailure(err);
        this.#d.metrics.batchGroupFailures.inc({ handling: shared ? 'given_back' : 'one_by_one' });
        if (!shared) this.#log.warn({ partitions: describe(group.map(({ batch }) => batch)), err: (err as Error)?.message ?? String(err) }, 'a group of batches failed; handling each on its own');
        return shared;
      },
    );
  }

  /** The data path up to the save, for a group of batches; see the file comment. */
  async #handleGroup(group: readonly Queued[]): Promise<void> {
    const { metrics } = this.#d;
    const sources: EventSource[] = group.map(({ batch }) => ({ topic: batch.topic, partition: batch.partition }));

    let out = newOutgoing();
    const turn = this.#decodeTurn(group);
    if (turn !== undefined) await turn;
    let works: StreamWork[];
    try {
      works = this.#decode(group, this.#d.models(), out);
    } finally {
      // Counted down once decoded, so that no small group slips in between a turn and its decode.
      if (turn !== undefined) this.#turnsWaiting -= 1;
    }
    const decoded = works;
    // Streams redone after a conflict are scored again; conflicts are rare
    // (rebalances) and counted, so the error metrics tolerate that.
    const sums = new Map<ServingModel, ErrorSums>();

    for (let attempt = 1; works.length > 0; attempt++) {
      if (attempt > MAX_SAVE_ATTEMPTS) {
        throw new Error(`state of ${works.length} streams kept changing under partitions ${describe(sources)}; giving the batches back`);
      }
      await this.#load(works);
      for (const w of works) this.#plan(w, out);
      await this.#step(works, out, sums, sources);
      await this.#publish(out);
      out = newOutgoing();
      // No heartbeat between publish and save: a rebalance it reported would
      // throw the published batch away and publish it again; the save is safe
      // under a rebalance anyway (compare-and-set), so heartbeat after it.
      works = await this.#save(works);
      if (works.length > 0) {
        metrics.stateConflicts.inc(works.length);
        this.#log.warn({ partitions: describe(sources), streams: works.length, attempt }, 'state changed under us; reloading and redoing those streams');
      }
    }
    // A group with no valid event never enters the loop: its dead letters are still here.
    await this.#publish(out);
    // Scores first: the states are saved, so they count even if a rebalance stops the commit.
    this.#recordErrors(sums);
    this.#recordActive(decoded);
  }

  /**
   * Resolves in a turn of the event loop of this group's own, after the
   * groups before it have decoded; undefined when the group may decode at
   * once. Decoding a backlog's batch of a few thousand events is tens of
   * milliseconds of JSON without a break, and a fetch hands over all its
   * partitions' batches at once: decoded back to back, none of their Redis
   * loads would be read (nor any step job sent) until the last was done,
   * and the step thread would sit idle meanwhile. One large decode per turn
   * lets the event loop read the replies in between, so the step thread
   * works on one group while this thread decodes the next. A small group
   * (a fraction of a millisecond of decoding, as when the worker keeps up
   * with its input) decodes at once, unless earlier groups have not decoded
   * yet: groups decode in the order they were formed. A caller given a turn
   * counts `#turnsWaiting` down once it has decoded.
   */
  #decodeTurn(group: readonly Queued[]): Promise<void> | undefined {
    let events = 0;
    for (const q of group) events += q.batch.messages.length;
    if (events < OWN_TURN_EVENTS && this.#turnsWaiting === 0) return undefined;
    this.#turnsWaiting += 1;
    const turn = this.#lastDecodeTurn.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
    this.#lastDecodeTurn = turn;
    return turn;
  }

  /** Commits a saved batch; each batch of a group on its own, so that one partition's failure is not another's. */
  async #commit(batch: InboundBatch, control: BatchControl): Promise<void> {
    await control.heartbeat();
    if (control.isStale()) {
      this.#log.info({ topic: batch.topic, partition: batch.partition }, 'partition was reassigned; leaving the commit to its new owner');
      return;
    }
    const last = batch.messages[batch.messages.length - 1]!;
    await control.commit((BigInt(last.offset) + 1n).toString());
  }

  /**
   * Reads one message into {@link #event} and its model's raw row, and
   * returns the model; or dead-letters it and returns undefined. The scanner
   * reads the common event straight from its bytes; anything it leaves goes
   * to decodeEvent and readFeatureValues, which define what an event is and
   * say why one is rejected.
   */
  #read(msg: InboundMessage, snapshot: ModelSnapshot, out: Outgoing): ServingModel | undefined {
    const { config } = this.#d;
    const scanner = this.#scanner;
    const e = this.#event;
    if (scanner.scan(msg.value, msg.key, config.maxEventBytes, msg.timestamp)) {
      const modelName = routeModel(scanner.model, msg.topic, config, snapshot);
      const model = modelName === undefined ? undefined : snapshot.get(modelName);
      if (model !== undefined && scanner.readInto(model.manifest.features, model.rawRow)) {
        e.stream = scanner.stream;
        e.ts = scanner.ts;
        e.reset = scanner.reset;
        e.end = scanner.end;
        return model;
      }
    }
    const decoded = decodeEvent(msg.value, msg.key, { maxEventBytes: config.maxEventBytes, fallbackTs: msg.timestamp });
    if (!decoded.ok) {
      this.#deadLetter(out, msg, decoded.code, decoded.message);
      return undefined;
    }
    const d = decoded.event;
    const modelName = routeModel(d.model, msg.topic, config, snapshot);
    const model = modelName === undefined ? undefined : snapshot.get(modelName);
    if (!model) {
      const why = modelName === undefined ? 'the event names no model and no default is configured' : `model "${modelName.slice(0, 64)}" is not loaded`;
      this.#deadLetter(out, msg, 'unknown_model', why);
      return undefined;
    }
    const bad = readFeatureValues(d.values, model.manifest.features, model.rawRow);
    if (bad) {
      this.#deadLetter(out, msg, bad.code, bad.message);
      return undefined;
    }
    e.stream = d.stream;
    e.ts = d.ts;
    e.reset = d.reset;
    e.end = d.end;
    return model;
  }

  #decode(group: readonly Queued[], snapshot: ModelSnapshot, out: Outgoing): StreamWork[] {
    const { config } = this.#d;
    // By model, then stream id: no state key is built for an event whose stream is already here.
    const works = new Map<ServingModel, Map<string, StreamWork>>();
    const list: StreamWork[] = [];
    // Two arrays for the group's values, not two per event: at first room for every message at the first model's width.
    const rows: RowBlock = { raw: new Float64Array(0), scaled: new Float32Array(0) };
    const messages = group.reduce((n, q) => n + q.batch.messages.length, 0);
    let row = 0;
    for (let source = 0; source < group.length; source++) {
      const { batch } = group[source]!;
      // Every message of a batch comes from one topic: hash it once.
      const topicHash = fnv1a32(batch.topic);
      for (const msg of batch.messages) {
        const model = this.#read(msg, snapshot, out);
        if (model === undefined) continue;
        const e = this.#event;
        const { inputSize } = model.manifest;
        const raw = model.rawRow;
        reserveRows(rows, row + inputSize, messages * inputSize);
        try {
          model.scaler.scaleRow(raw, rows.scaled, row);
        } catch (err) {
          if (isStreamcellError(err) && (DEAD_LETTER_CODES as readonly string[]).includes(err.code)) {
            this.#deadLetter(out, msg, err.code as DeadLetterCode, err.message);
            continue;
          }
          throw err;
        }
        let streams = works.get(model);
        if (streams === undefined) works.set(model, (streams = new Map<string, StreamWork>()));
        let w = streams.get(e.stream);
        if (!w) {
          const key = stateKey(config.stateKeyPrefix, model.name, e.stream);
          w = {
            key,
            stream: e.stream,
            model,
            events: [],
            loadedGuard: null,
            hasRecord: false,
            // Placed in the batch's one block of floats below.
            state: NO_FLOATS,
            history: NO_FLOATS,
            known: 0,
            topicHash: 0,
            partition: -1,
            offset: -1,
            lastTs: Number.NEGATIVE_INFINITY,
            steps: 0,
            deleted: false,
            toApply: [],
          };
          streams.set(e.stream, w);
          list.push(w);
        }
        rows.raw.set(raw, row);
        w.events.push({ msg, topicHash, source, offset: Number(msg.offset), ts: e.ts, reset: e.reset, end: e.end, rows, row });
        row += inputSize;
      }
    }
    // One allocation for the states and histories of all the batch's streams, not two per stream.
    const floats = list.reduce((n, w) => n + w.model.stateSize + w.model.layout.size, 0);
    const block = new Float32Array(floats);
    let at = 0;
    for (const w of list) {
      w.state = block.subarray(at, (at += w.model.stateSize));
      w.history = block.subarray(at, (at += w.model.layout.size));
    }
    return list;
  }

  async #load(works: StreamWork[]): Promise<void> {
    const t0 = performance.now();
    const raws = await this.#d.store.load(works.map((w) => w.key));
    this.#d.metrics.redisSeconds.observe({ op: 'load' }, (performance.now() - t0) / 1000);
    for (let i = 0; i < works.length; i++) this.#init(works[i]!, raws[i] ?? null);
  }

  #init(w: StreamWork, raw: Buffer | null): void {
    const { metrics } = this.#d;
    w.loadedGuard = raw === null ? null : guardOf(raw);
    w.hasRecord = raw !== null;
    w.state.fill(0);
    w.history.fill(0);
    w.known = 0;
    w.topicHash = 0;
    w.partition = -1;
    w.offset = -1;
    w.lastTs = Number.NEGATIVE_INFINITY;
    w.steps = 0;
    w.deleted = false;
    // Emptied in place: the array made with the work is not thrown away at the first load.
    w.toApply.length = 0;
    if (raw === null) return;
    // Reads the floats straight into w.state and w.history when the shapes match; zeroed again below if they must not count.
    const rec = decodeRecord(raw, { state: w.state, scoring: w.history });
    if (typeof rec === 'string') {
      metrics.stateResets.inc({ reason: 'unreadable' });
      this.#log.warn({ key: w.key, reason: rec }, 'stored state unreadable; starting the stream afresh');
      return;
    }
    // The coordinates stay even when the state resets: they say which events are in it.
    w.topicHash = rec.topicHash;
    w.partition = rec.partition;
    w.offset = rec.offset;
    w.lastTs = rec.lastEventTs;
    if (rec.modelHash !== w.model.hash) {
      w.state.fill(0);
      w.history.fill(0);
      metrics.stateResets.inc({ reason: 'model_version' });
      return;
    }
    if (rec.state !== w.state || rec.scoring !== w.history) {
      // Other lengths: decodeRecord left w.state and w.history zero.
      metrics.stateResets.inc({ reason: 'shape' });
      return;
    }
    // At most the horizon: a record says more only when it is damaged.
    w.known = Math.min(rec.historyKnown, w.model.layout.horizon);
    w.steps = rec.steps;
  }

  /** Decides which events to step: not those already in the state, not those out of order. */
  #plan(w: StreamWork, out: Outgoing): void {
    const { metrics, config } = this.#d;
    let lastTs = w.lastTs;
    // The partition the stream's state records as each batch of the group begins (for the cross-partition
    // count): the loaded record's, then that of the last event applied from an earlier batch.
    let recorded = w.hasRecord && w.partition >= 0;
    let recordedHash = w.topicHash;
    let recordedPartition = w.partition;
    let source = -1;
    let applied: PendingEvent | undefined;
    for (const ev of w.events) {
      if (ev.source !== source) {
        source = ev.source;
        if (applied?.end === true) {
          // The earlier batch ended the stream: one by one, this batch would find no record.
          recorded = false;
        } else if (applied !== undefined) {
          recorded = true;
          recordedHash = applied.topicHash;
          recordedPartition = applied.msg.partition;
        }
      }
      const samePartition = w.hasRecord && ev.topicHash === w.topicHash && ev.msg.partition === w.partition;
      if (samePartition && ev.offset <= w.offset) {
        metrics.replaySkipped.inc();
        continue;
      }
      if (!ev.reset && ev.ts < lastTs && !config.acceptOutOfOrder) {
        this.#deadLetter(out, ev.msg, 'out_of_order', `event time ${new Date(ev.ts).toISOString()} is before the stream's last event at ${new Date(lastTs).toISOString()}`);
        continue;
      }
      if (recorded && (ev.topicHash !== recordedHash || ev.msg.partition !== recordedPartition)) metrics.crossPartitionEvents.inc();
      lastTs = ev.reset ? ev.ts : Math.max(lastTs, ev.ts);
      w.toApply.push(ev);
      applied = ev;
      // The stream is over: what follows starts afresh, with no last event time to be late against.
      if (ev.end) lastTs = Number.NEGATIVE_INFINITY;
    }
  }

  /**
   * Steps every stream through its pending events: one step job per model
   * (step-job.ts; wave k holds the k-th pending event of every stream), run
   * by the step runner, then the bookkeeping here in the same event order.
   */
  async #step(works: StreamWork[], out: Outgoing, sums: Map<ServingModel, ErrorSums>, sources: readonly EventSource[]): Promise<void> {
    const byModel = new Map<ServingModel, StreamWork[]>();
    for (const w of works) {
      if (w.toApply.length === 0) continue;
      const list = byModel.get(w.model);
      if (list) list.push(w);
      else byModel.set(w.model, [w]);
    }
    const jobs = [...byModel].map(([model, list]) => this.#stepJob(model, list, sources));
    const results = await Promise.all(jobs.map((j) => this.#steps.run(j.model, j.job)));
    // Applied in model order once all are back, so that the forecasts' order does not depend on which job finished first.
    jobs.forEach((j, i) => this.#applyStep(j, results[i]!, out, sums));
  }

  /** The step job of one model's streams (see step-job.ts), with what #applyStep needs to match its results. */
  #stepJob(model: ServingModel, list: StreamWork[], sources: readonly EventSource[]): BuiltJob {
    const { manifest, stateSize: S, layout } = model;
    const D = manifest.inputSize;
    const T = manifest.targets.length;
    const L = layout.size;
    const n = list.length;
    // The events in waves: wave k is the k-th pending event of every stream that has one.
    let waves = 0;
    let m = 0;
    for (const w of list) {
      waves = Math.max(waves, w.toApply.length);
      m += w.toApply.length;
    }
    // Typed arrays filled in place (Int32Array.from would go through an iterator, one object per element).
    const events = new Array<PendingEvent>(m);
    const stream = new Int32Array(m);
    const source = new Int32Array(m);
    const waveEnds = new Int32Array(waves);
    let next = 0;
    for (let k = 0; k < waves; k++) {
      for (let s = 0; s < n; s++) {
        const ev = list[s]!.toApply[k];
        if (ev === undefined) continue;
        events[next] = ev;
        stream[next] = s;
        source[next] = ev.source;
        next += 1;
      }
      waveEnds[k] = next;
    }
    const job: StepJob = {
      sources,
      streams: list.map((w) => w.stream),
      states: new Float32Array(n * S),
      histories: new Float32Array(n * L),
      known: new Int32Array(n),
      stream,
      source,
      flags: new Uint8Array(m),
      x: new Float32Array(m * D),
      actual: new Float64Array(m * T),
      ts: new Float64Array(m),
      offsets: events.map((ev) => ev.msg.offset),
      waveEnds,
    };
    for (let s = 0; s < n; s++) {
      const w = list[s]!;
      job.states.set(w.state, s * S);
      job.histories.set(w.history, s * L);
      job.known[s] = w.known;
    }
    for (let e = 0; e < m; e++) {
      const ev = events[e]!;
      job.flags[e] = (ev.reset ? RESET : 0) | (ev.end ? END : 0);
      const { raw, scaled } = ev.rows;
      for (let j = 0; j < D; j++) job.x[e * D + j] = scaled[ev.row + j]!;
      for (let t = 0; t < T; t++) job.actual[e * T + t] = raw[ev.row + model.targetFeature[t]!]!;
      job.ts[e] = ev.ts;
    }

    // The job's own stream indices go to the step thread (transferred): #applyStep reads this copy.
    return { model, list, events, owners: stream.slice(), job };
  }

  /** Takes a step job's results into the streams' works and the outgoing forecasts, with the bookkeeping. */
  #applyStep({ model, list, events, owners }: BuiltJob, result: StepResult, out: Outgoing, sums: Map<ServingModel, ErrorSums>): void {
    const { metrics } = this.#d;
    const { stateSize: S, layout } = model;
    const L = layout.size;
    const n = list.length;
    const m = events.length;
    metrics.stepSeconds.observe({ model: model.name }, result.kernelSeconds);
    const into = sums.get(model);
    if (into === undefined) sums.set(model, result.sums);
    else addSums(into, result.sums);
    for (let s = 0; s < n; s++) {
      const w = list[s]!;
      w.state.set(result.states.subarray(s * S, (s + 1) * S));
      w.history.set(result.histories.subarray(s * L, (s + 1) * L));
      w.known = result.known[s]!;
    }
    let forecasts = 0;
    for (let e = 0; e < m; e++) {
      const ev = events[e]!;
      const w = list[owners[e]!]!;
      if (ev.reset) {
        if (w.steps > 0) metrics.stateResets.inc({ reason: 'reset_flag' });
        w.steps = 0;
      }
      out.times.push(ev.ts, ev.msg.timestamp);
      forecasts += 1;
      w.topicHash = ev.topicHash;
      w.partition = ev.msg.partition;
      w.offset = ev.offset;
      w.lastTs = ev.reset ? ev.ts : Math.max(w.lastTs, ev.ts);
      w.steps += 1;
      w.deleted = ev.end;
      // The stream is over: what follows in this batch starts afresh (the step job zeroed its floats).
      if (ev.end) {
        w.steps = 0;
        w.lastTs = Number.NEGATIVE_INFINITY;
      }
    }
    out.forecasts.push({ topic: this.#d.config.forecastsTopic, ...result.forecasts });
    out.perModel.set(model.name, (out.perModel.get(model.name) ?? 0) + forecasts);
  }

  async #publish(out: Outgoing): Promise<void> {
    const { sink, metrics } = this.#d;
    const records: SinkRecords[] = [...out.forecasts];
    for (const [topic, messages] of out.deadLetters) records.push({ topic, messages });
    if (records.length === 0) return;
    await sink.send(records);
    const now = this.#now();
    const published = out.times.length / 2;
    if (this.#latencies.length < published) this.#latencies = new Float64Array(Math.max(published, this.#latencies.length * 2));
    const latencies = this.#latencies;
    for (let i = 0; i < published; i++) latencies[i] = Math.max(0, now - out.times[2 * i]!) / 1000;
    metrics.eventLatencySeconds.observeMany(latencies, published);
    for (let i = 0; i < published; i++) latencies[i] = Math.max(0, now - out.times[2 * i + 1]!) / 1000;
    metrics.appendLatencySeconds.observeMany(latencies, published);
    for (const [model, n] of out.perModel) metrics.forecastsOut.inc({ model }, n);
    for (const [code, n] of out.deadLetterCodes) metrics.deadLetters.inc({ code }, n);
  }

  /** Saves every stream that stepped; returns those whose compare-and-set lost. */
  async #save(works: StreamWork[]): Promise<StreamWork[]> {
    const { store, metrics, config } = this.#d;
    const dirty = works.filter((w) => w.toApply.length > 0);
    if (dirty.length === 0) return [];
    const writes = dirty.map((w) => ({
      key: w.key,
      expectGuard: w.loadedGuard,
      value: w.deleted
        ? null
        : encodeRecord({
            modelHash: w.model.hash,
            topicHash: w.topicHash,
            partition: w.partition,
            offset: w.offset,
            lastEventTs: w.lastTs,
            steps: w.steps,
            state: w.state,
            scoring: w.history,
            historyKnown: w.known,
          }),
    }));
    const t0 = performance.now();
    const results = await store.save(writes, config.stateTtlMs);
    metrics.redisSeconds.observe({ op: 'save' }, (performance.now() - t0) / 1000);
    return dirty.filter((_, i) => results[i] === SAVE_RESULT.conflict);
  }

  #deadLetter(out: Outgoing, msg: InboundMessage, code: DeadLetterCode, message: string): void {
    const topic = deadLetterTopic(msg.topic);
    const list = out.deadLetters.get(topic) ?? [];
    // A dead letter Kafka refuses would stall the partition: very long (too_large) values are cut.
    list.push(deadLetter(msg, { topic: msg.topic, partition: msg.partition, offset: msg.offset }, code, message, this.#d.config.deadLetterMaxBytes));
    out.deadLetters.set(topic, list);
    out.deadLetterCodes.set(code, (out.deadLetterCodes.get(code) ?? 0) + 1);
    this.#log.debug({ topic: msg.topic, partition: msg.partition, offset: msg.offset, code, reason: message }, 'dead letter');
  }

  /** Streams with a valid event in this batch count as active; a stream that ended does not. */
  #recordActive(works: readonly StreamWork[]): void {
    const active = this.#d.activeStreams;
    if (active === undefined) return;
    const now = this.#now();
    for (const w of works) {
      if (w.deleted) active.forget(w.model.name, w.stream);
      else active.touch(w.model.name, w.stream, now);
    }
  }

  /** Adds a saved batch's error sums to those the next read of the score counters reports. */
  #recordErrors(sums: Map<ServingModel, ErrorSums>): void {
    for (const [model, s] of sums) {
      const into = this.#unreportedScores.get(model);
      if (into === undefined) {
        this.#unreportedScores.set(model, s);
        continue;
      }
      addSums(into, s);
    }
  }

  #reportScores(): void {
    const { metrics } = this.#d;
    const pending = [...this.#unreportedScores];
    // Cleared first: a model replaced by a new version is not kept alive here.
    this.#unreportedScores.clear();
    for (const [model, s] of pending) {
      const T = model.manifest.targets.length;
      for (let idx = 0; idx < s.count.length; idx++) {
        const n = s.count[idx]!;
        // An overflowing forecast gives an infinite error: prom-client refuses it, and it would break the scrape.
        if (n === 0 || !Number.isFinite(s.model[idx]!) || !Number.isFinite(s.naive[idx]!)) continue;
        const labels = { model: model.name, step: String(Math.floor(idx / T) + 1), target: model.manifest.targets[idx % T]! };
        metrics.forecastAbsError.inc(labels, s.model[idx]);
        metrics.naiveAbsError.inc(labels, s.naive[idx]);
        metrics.forecastsScored.inc(labels, n);
      }
    }
  }
}

/** kafkajs errors that say the connection or the group failed, not one topic or partition. */
const SHARED_KAFKA_ERRORS = new Set(['KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError', 'KafkaJSBrokerNotFound', 'KafkaJSLockTimeout']);

/**
 * True when a group's failure would be the same for each of its batches on
 * its own: Redis unavailable, a Kafka connection or timeout, the consumer
 * group moving on. Going through the batches one by one would then only
 * wait out the same failure once per batch (past the drain and session
 * timeouts, in an outage), so they are all given back at once.
 */
export function sharedFailure(err: unknown): boolean {
  const shared = (e: unknown): boolean =>
    (isStreamcellError(e) && e.code === 'redis_unavailable') || SHARED_KAFKA_ERRORS.has(String((e as { name?: unknown }).name)) || isGroupChange(e);
  return findCause(err, shared) !== undefined;
}

/** A group's partitions for a log line, as topic/partition, comma-separated. */
function describe(sources: readonly { readonly topic: string; readonly partition: number }[]): string {
  return sources.map((s) => `${s.topic}/${s.partition}`).join(', ');
}

/** Adds `s` into `into` (sums of the same layout). */
function addSums(into: ErrorSums, s: ErrorSums): void {
  for (let i = 0; i < s.count.length; i++) {
    into.model[i]! += s.model[i]!;
    into.naive[i]! += s.naive[i]!;
    into.count[i]! += s.count[i]!;
  }
}
