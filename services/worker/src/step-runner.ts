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
 * The thread holds its own copy of each model it is sent (its own kernel
 * memory too), sent once and dropped when the worker's model object is
 * collected (a replaced version). A model the thread cannot build runs in
 * place. A thread that dies fails the jobs it held (their batches are
 * redelivered) and the next job starts another; after three deaths in a row
 * without a job done in between, every job runs in place.
 *
 * Job arrays are transferred, not copied: each must own its whole
 * ArrayBuffer, and is detached once handed to the thread until the result
 * brings it back.
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

/** Answers from the step thread, one per model and per job, in order. */
export type FromStepThread =
  | { readonly type: 'model'; readonly id: number; readonly error: string | undefined }
  | {
      readonly type: 'done';
      readonly id: number;
      readonly states: Float32Array;
      readonly histories: Float32Array;
      readonly known: Int32Array;
      /** The forecast messages, packed (see StepOutput). */
      readonly forecasts: StepOutput['forecasts'];
      readonly sums: ErrorSums;
      readonly kernelSeconds: number;
    }
  | { readonly type: 'failed'; readonly id: number; readonly message: string };

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
  /** The module the thread runs (default step-thread.ts; tests give one that fails). */
  readonly threadModule?: URL;
}

/** Thread deaths in a row (no job done in between) after which every job runs in place. */
const MAX_LOSSES = 3;

/** How the thread took a model: it holds it, it could not build it, or the thread was lost meanwhile. */
type Registered = 'ok' | 'refused' | 'lost';

interface Waiting {
  readonly resolve: (value: FromStepThread) => void;
  readonly reject: (err: Error) => void;
}

/** Runs step jobs in this thread or in one step thread; see the file comment. */
export class StepRunner {
  #useThread: boolean;
  readonly #minThreadEvents: number;
  readonly #log: Logger;
  readonly #onJob: (thread: 'step' | 'worker') => void;
  readonly #threadModule: URL;
  #worker: Worker | undefined;
  /** Bumped with every new thread: a model registered with an earlier one is sent again. */
  #generation = 0;
  readonly #models = new WeakMap<StepModel, { readonly generation: number; readonly id: number; readonly registered: Promise<Registered> }>();
  /** Models the thread could not build: they run in place. */
  readonly #inPlace = new WeakSet<StepModel>();
  /** Tells the thread to drop a model once the worker no longer holds it. */
  readonly #dropper = new FinalizationRegistry<number>((id) => this.#post({ type: 'drop', id }));
  /** Answers awaited from the thread, by message id. */
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 1;
  #losses = 0;
  #closed = false;
  /** Jobs run in the step thread so far, and threads started; for tests. */
  threadJobs = 0;
  threadStarts = 0;

  constructor(options: StepRunnerOptions) {
    this.#useThread = options.thread;
    this.#minThreadEvents = options.minThreadEvents ?? 64;
    this.#log = options.log.child({ component: 'steps' });
    this.#onJob = options.onJob ?? (() => undefined);
    this.#threadModule = options.threadModule ?? new URL('./step-thread.ts', import.meta.url);
  }

  /** Runs `job` on `model`; see {@link runStepJob}. */
  async run(model: StepModel, job: StepJob): Promise<StepResult> {
    if (this.#useThread && !this.#closed && job.stream.length >= this.#minThreadEvents && !this.#inPlace.has(model)) {
      const worker = this.#ensureWorker();
      const { id: modelId, registered } = this.#register(worker, model);
      const how = await registered;
      if (how === 'refused') this.#inPlace.add(model);
      // The thread may have died or been closed while the model was on its way.
      if (how === 'ok' && this.#worker === worker) return this.#runInThread(worker, modelId, job);
    }
    this.#onJob('worker');
    const out = runStepJob(model, job);
    return { ...out, states: job.states, histories: job.histories, known: job.known };
  }

  /** Stops the step thread, failing the jobs it holds; later jobs run in the caller's thread. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#lost(worker, new Error('step runner closed'), false);
    await worker.terminate();
  }

  async #runInThread(worker: Worker, modelId: number, job: StepJob): Promise<StepResult> {
    const id = this.#nextId++;
    const transfer = [job.states, job.histories, job.known, job.stream, job.source, job.flags, job.x, job.actual, job.ts, job.waveEnds].map((a) => {
      if (a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength) throw new RangeError('step job arrays must each own their whole ArrayBuffer (they are transferred)');
      return a.buffer as ArrayBuffer;
    });
    this.threadJobs += 1;
    this.#onJob('step');
    const answer = await this.#ask(worker, id, { type: 'job', id, model: modelId, job }, transfer);
    if (answer.type === 'failed') throw new Error(`step thread: ${answer.message}`);
    if (answer.type !== 'done') throw new Error(`step thread answered a job with ${answer.type}`);
    this.#losses = 0;
    const { forecasts, sums, kernelSeconds, states, histories, known } = answer;
    return { forecasts, sums, kernelSeconds, states, histories, known };
  }

  /** The id the current thread knows `model` by, and whether it took it; sends the model the first time. */
  #register(worker: Worker, model: StepModel): { id: number; registered: Promise<Registered> } {
    const known = this.#models.get(model);
    if (known !== undefined && known.generation === this.#generation) return known;
    const id = this.#nextId++;
    const registered = this.#ask(worker, id, { type: 'model', id, manifest: model.manifest, weights: model.weights, maxBatch: model.stepper.maxBatch }).then(
      (answer): Registered => {
        if (answer.type === 'model' && answer.error === undefined) return 'ok';
        this.#log.warn({ model: model.name, version: model.version, err: answer.type === 'model' ? answer.error : answer.type }, 'the step thread cannot build this model; its steps run in the worker thread');
        return 'refused';
      },
      (): Registered => 'lost',
    );
    const entry = { generation: this.#generation, id, registered };
    this.#models.set(model, entry);
    this.#dropper.register(model, id);
    return entry;
  }

  /** Posts `msg` and waits for the thread's answer to it. */
  #ask(worker: Worker, id: number, msg: ToStepThread, transfer: ArrayBuffer[] = []): Promise<FromStepThread> {
    return new Promise<FromStepThread>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      // Keeps the process alive only while an answer is awaited.
      if (this.#waiting.size === 1) worker.ref();
      try {
        worker.postMessage(msg, transfer);
      } catch (err) {
        this.#settled(worker, id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  #settled(worker: Worker, id: number): Waiting | undefined {
    const w = this.#waiting.get(id);
    this.#waiting.delete(id);
    if (this.#waiting.size === 0) worker.unref();
    return w;
  }

  #post(msg: ToStepThread): void {
    try {
      this.#worker?.postMessage(msg);
    } catch {
      // A thread that is going away drops everything anyway.
    }
  }

  #ensureWorker(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(this.#threadModule);
    this.threadStarts += 1;
    worker.unref();
    this.#generation += 1;
    worker.on('message', (msg: FromStepThread) => this.#settled(worker, msg.id)?.resolve(msg));
    worker.on('messageerror', (err: Error) => {
      this.#lost(worker, new Error(`step thread sent a message that cannot be read: ${err.message}`), true);
      void worker.terminate();
    });
    worker.on('error', (err: Error) => this.#lost(worker, err, true));
    worker.on('exit', (code) => this.#lost(worker, new Error(`step thread exited with code ${code}`), true));
    this.#worker = worker;
    return worker;
  }

  /** The thread is gone: what it held fails (those batches are redelivered); the next job starts another, up to MAX_LOSSES in a row. */
  #lost(worker: Worker, err: Error, unexpected: boolean): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiting) w.reject(err);
    if (!unexpected) return;
    this.#losses += 1;
    if (this.#losses >= MAX_LOSSES) {
      this.#useThread = false;
      this.#log.error({ err: err.message, losses: this.#losses }, 'step thread lost again; every step now runs in the worker thread');
    } else {
      this.#log.error({ err: err.message, losses: this.#losses }, 'step thread lost; its jobs fail and the next job starts another');
    }
  }
}
