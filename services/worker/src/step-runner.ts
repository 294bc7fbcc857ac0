/**
 * Where step jobs (step-job.ts) run. A worker's thread spends most of its
 * time on Kafka and Redis clients, JSON and bookkeeping; the kernel, the
 * scoring and the forecast messages of a large batch can run beside that on
 * a second core. So a job of at least `minThreadEvents` events goes to a
 * step thread (step-thread.ts) while the worker's thread goes on with other
 * partitions' batches; smaller jobs (a few events, as when the worker keeps
 * up with its input) run where they are, since the hop to the thread and
 * back would cost more than it saves.
 *
 * The results are the same either way: the same code on the same kernel,
 * whose results do not depend on the batch a stream is stepped in.
 *
 * Job arrays are transferred, not copied: a job's typed arrays must each
 * own their ArrayBuffer, and are detached once handed to the thread until
 * the result brings them back.
 */
import { Worker } from 'node:worker_threads';
import type { Manifest } from '@streamcell/model';
import type { RnnWeights } from '@streamcell/rnn';
import type { ErrorSums } from '@streamcell/state';
import type { Logger } from '@streamcell/telemetry';
import { runStepJob, type StepJob, type StepModel, type StepOutput } from './step-job.ts';

/** Messages to the step thread. */
export type ToStepThread =
  | { readonly type: 'model'; readonly id: number; readonly manifest: Manifest; readonly weights: RnnWeights; readonly maxBatch: number }
  | { readonly type: 'drop'; readonly id: number }
  | { readonly type: 'job'; readonly id: number; readonly model: number; readonly job: StepJob };

/** Answers from the step thread, one per job, in order. */
export type FromStepThread =
  | {
      readonly type: 'done';
      readonly id: number;
      readonly states: Float32Array;
      readonly histories: Float32Array;
      readonly known: Int32Array;
      /** The messages back to back; `ends[i]` is where message i ends. */
      readonly bytes: Uint8Array;
      readonly ends: Uint32Array;
      readonly sums: ErrorSums;
      readonly kernelSeconds: number;
    }
  | { readonly type: 'failed'; readonly id: number; readonly message: string; readonly stack: string | undefined };

/** What a job's caller gets back: the job's arrays (updated; the ones it passed in when the job ran in place) and the outputs. */
export interface StepResult extends StepOutput {
  readonly states: Float32Array;
  readonly histories: Float32Array;
  readonly known: Int32Array;
}

export interface StepRunnerOptions {
  /** Use a step thread at all (false: every job runs in the caller's thread). */
  readonly thread: boolean;
  /** Smallest job, in events, sent to the thread (default 64). */
  readonly minThreadEvents?: number;
  readonly log: Logger;
  /** Told where each job runs: the step thread or the caller's. */
  readonly onJob?: (thread: 'step' | 'worker') => void;
}

/** Models the thread holds at most; the least recently used is dropped beyond that. */
const THREAD_MODELS = 32;

interface Pending {
  readonly job: StepJob;
  readonly resolve: (r: StepResult) => void;
  readonly reject: (e: Error) => void;
}

/** Runs step jobs in this thread or in one step thread; see the file comment. */
export class StepRunner {
  readonly #thread: boolean;
  readonly #minThreadEvents: number;
  readonly #log: Logger;
  readonly #onJob: (thread: 'step' | 'worker') => void;
  #worker: Worker | undefined;
  /** Models the current thread holds, least recently used first, by id. */
  readonly #models = new Map<StepModel, number>();
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  /** Jobs run in the step thread so far; for tests and the benchmark. */
  threadJobs = 0;

  constructor(options: StepRunnerOptions) {
    this.#thread = options.thread;
    this.#minThreadEvents = options.minThreadEvents ?? 64;
    this.#log = options.log.child({ component: 'steps' });
    this.#onJob = options.onJob ?? (() => undefined);
  }

  /** Runs `job` on `model`; see {@link runStepJob}. */
  run(model: StepModel, job: StepJob): Promise<StepResult> {
    if (!this.#thread || this.#closed || job.stream.length < this.#minThreadEvents) {
      this.#onJob('worker');
      try {
        const out = runStepJob(model, job);
        return Promise.resolve({ ...out, states: job.states, histories: job.histories, known: job.known });
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
    const worker = this.#ensureWorker();
    const modelId = this.#modelId(worker, model);
    const id = this.#nextId++;
    this.threadJobs += 1;
    this.#onJob('step');
    return new Promise<StepResult>((resolve, reject) => {
      this.#pending.set(id, { job, resolve, reject });
      if (this.#pending.size === 1) worker.ref();
      const msg: ToStepThread = { type: 'job', id, model: modelId, job };
      worker.postMessage(msg, [job.states.buffer, job.histories.buffer, job.known.buffer, job.stream.buffer, job.flags.buffer, job.x.buffer, job.actual.buffer, job.ts.buffer, job.waveEnds.buffer] as ArrayBuffer[]);
    });
  }

  /** Stops the step thread; later jobs run in the caller's thread. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#lost(worker, new Error('step runner closed'));
    await worker.terminate();
  }

  #ensureWorker(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(new URL('./step-thread.ts', import.meta.url));
    worker.unref();
    this.#models.clear();
    worker.on('message', (msg: FromStepThread) => this.#answer(worker, msg));
    worker.on('error', (err: Error) => {
      this.#log.error({ err: err.message }, 'step thread failed; its jobs fail and the next job starts a new one');
      this.#lost(worker, err);
    });
    worker.on('exit', (code) => this.#lost(worker, new Error(`step thread exited with code ${code}`)));
    this.#worker = worker;
    return worker;
  }

  /** The id `worker` knows `model` by, sending it first when it does not hold it yet. */
  #modelId(worker: Worker, model: StepModel): number {
    const known = this.#models.get(model);
    if (known !== undefined) {
      // Most recently used last.
      this.#models.delete(model);
      this.#models.set(model, known);
      return known;
    }
    if (this.#models.size >= THREAD_MODELS) {
      const [oldest, oldId] = this.#models.entries().next().value!;
      this.#models.delete(oldest);
      worker.postMessage({ type: 'drop', id: oldId } satisfies ToStepThread);
    }
    const id = this.#nextId++;
    this.#models.set(model, id);
    worker.postMessage({ type: 'model', id, manifest: model.manifest, weights: model.weights, maxBatch: model.stepper.maxBatch } satisfies ToStepThread);
    return id;
  }

  #answer(worker: Worker, msg: FromStepThread): void {
    const p = this.#pending.get(msg.id);
    if (p === undefined) return;
    this.#pending.delete(msg.id);
    if (this.#pending.size === 0) worker.unref();
    if (msg.type === 'failed') {
      const err = new Error(`step thread: ${msg.message}`);
      if (msg.stack !== undefined) err.stack = msg.stack;
      p.reject(err);
      return;
    }
    const messages = new Array<Buffer>(msg.ends.length);
    for (let i = 0, from = 0; i < msg.ends.length; i++) {
      const end = msg.ends[i]!;
      messages[i] = Buffer.from(msg.bytes.buffer, msg.bytes.byteOffset + from, end - from);
      from = end;
    }
    p.resolve({ messages, sums: msg.sums, kernelSeconds: msg.kernelSeconds, states: msg.states, histories: msg.histories, known: msg.known });
  }

  /** The thread is gone: its jobs fail (their batches are handed back and redelivered). */
  #lost(worker: Worker, err: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
  }
}
