/**
 * The arithmetic of one group of partition batches for one model, apart from its
 * bookkeeping: step every stream through its events (the kernel), turn the
 * head's outputs into forecasts, score them, and write the forecast
 * messages. Plain arrays in, plain arrays out, so that it runs the same in the
 * worker's thread or in a step thread (step-runner.ts); the pipeline does
 * everything else (offsets, event times, step counts, metrics).
 */
import { createScaler, specOf, type FeatureScaler, type Manifest } from '@streamcell/model';
import { ForecastWriter, IDEMPOTENCY_HEADER, idempotencyKeyOf } from '@streamcell/protocol';
// The packed writer alone: the step thread does not load the Kafka client.
import { PackedMessageWriter, type PackedBytes } from '@streamcell/streams/packed';
import { createStepper, stateSize, type FastStepper, type RnnWeights } from '@streamcell/rnn';
import { errorSums, scoreAndShift, scoringLayout, type ErrorSums, type ScoringLayout } from '@streamcell/state';

/** A model ready to run step jobs. */
export interface StepModel {
  readonly name: string;
  readonly version: string;
  readonly manifest: Manifest;
  readonly weights: RnnWeights;
  readonly stepper: FastStepper;
  readonly scaler: FeatureScaler;
  readonly stateSize: number;
  readonly layout: ScoringLayout;
  /** Writes this model's forecast messages. */
  readonly forecasts: ForecastWriter;
}

/** Builds a {@link StepModel} from a loaded model. */
export function stepModel(manifest: Manifest, weights: RnnWeights, maxBatch: number): StepModel {
  return {
    name: manifest.name,
    version: manifest.version,
    manifest,
    weights,
    stepper: createStepper(weights, { maxBatch }),
    scaler: createScaler(manifest),
    stateSize: stateSize(specOf(manifest)),
    layout: scoringLayout(manifest.horizon, manifest.targets.length),
    forecasts: new ForecastWriter({ name: manifest.name, version: manifest.version }, manifest.targets, manifest.horizon),
  };
}

/** Event flags in {@link StepJob.flags}. */
export const RESET = 1;
export const END = 2;

/** Where events were consumed from: a topic's partition. */
export interface EventSource {
  readonly topic: string;
  readonly partition: number;
}

/**
 * One group's streams of one model (n of them) and their events (m), the
 * events in waves: wave k holds the k-th event of every stream that has one,
 * so a stream appears at most once per wave and its events keep their order.
 */
export interface StepJob {
  /** The partitions the events came from; each event names its own by index (`source`). */
  readonly sources: readonly EventSource[];
  /** Per stream: id, state [n x stateSize], scoring history [n x layout.size], known events in it. Updated in place. */
  readonly streams: readonly string[];
  readonly states: Float32Array;
  readonly histories: Float32Array;
  readonly known: Int32Array;
  /** Per event: its stream's index, its index in `sources`, RESET/END flags, scaled input row [m x inputSize], actual target values [m x targets], event time, source offset. */
  readonly stream: Int32Array;
  readonly source: Int32Array;
  readonly flags: Uint8Array;
  readonly x: Float32Array;
  readonly actual: Float64Array;
  readonly ts: Float64Array;
  readonly offsets: readonly string[];
  /** Where each wave's events end (exclusive), ascending. */
  readonly waveEnds: Int32Array;
}

/** What a job gives back besides its updated states, histories and known counts. */
export interface StepOutput {
  /**
   * The forecast messages of the events, in event order, packed as Kafka
   * records carry them (see @streamcell/streams packed.ts): key = stream id,
   * value = the forecast JSON, header {@link IDEMPOTENCY_HEADER} = the source
   * coordinates. Each array is a view from the start of an ArrayBuffer of
   * its own (that of `bytes` may run past the last message: room set aside
   * and not used), so that a step thread hands them over in one transfer
   * each.
   */
  readonly forecasts: PackedBytes;
  readonly sums: ErrorSums;
  /** Seconds spent in the kernel. */
  readonly kernelSeconds: number;
}

/** Room first set aside per forecast message of a job (the buffer grows when that is not enough). */
const INITIAL_MESSAGE_BYTES = 512;

/** Runs `job` on `model`: updates its states, histories and known counts in place; returns the messages and error sums. */
export function runStepJob(model: StepModel, job: StepJob): StepOutput {
  const { stepper, scaler, manifest, stateSize: S, layout } = model;
  const { x, state, out: head } = stepper.buffers;
  const D = manifest.inputSize;
  const O = manifest.outputSize;
  const T = manifest.targets.length;
  const L = layout.size;
  const n = job.streams.length;
  const m = job.stream.length;
  if (job.states.length !== n * S || job.histories.length !== n * L || job.known.length !== n || job.x.length !== m * D || job.actual.length !== m * T || job.source.length !== m) {
    throw new RangeError(`step job arrays do not match ${n} streams and ${m} events of model ${model.name}/${model.version}`);
  }
  // One view per stream, for the scoring history.
  const histories = Array.from({ length: n }, (_, s) => job.histories.subarray(s * L, (s + 1) * L));
  const sums = errorSums(layout);
  const forecast = new Float32Array(O);
  const actual = new Float64Array(T);
  const oneStep = new Float64Array(T);
  const scratch = new Float32Array(L);
  const messages = new PackedMessageWriter(m, INITIAL_MESSAGE_BYTES);
  // Each source's idempotency header, its offset left to each message.
  const headers = job.sources.map((from) => PackedMessageWriter.header(IDEMPOTENCY_HEADER, idempotencyKeyOf(from.topic, from.partition, '')));
  let kernelSeconds = 0;
  let from = 0;
  for (const waveEnd of job.waveEnds) {
    for (let start = from; start < waveEnd; start += stepper.maxBatch) {
      const rows = Math.min(stepper.maxBatch, waveEnd - start);
      for (let i = 0; i < rows; i++) {
        const e = start + i;
        const s = job.stream[e]!;
        if ((job.flags[e]! & RESET) !== 0) {
          job.states.fill(0, s * S, (s + 1) * S);
          histories[s]!.fill(0);
          job.known[s] = 0;
        }
        for (let j = 0; j < D; j++) x[i * D + j] = job.x[e * D + j]!;
        // A state is hundreds of floats: one native copy beats a loop.
        state.set(job.states.subarray(s * S, (s + 1) * S), i * S);
      }
      const t0 = performance.now();
      stepper.step(rows, x, state, head);
      kernelSeconds += (performance.now() - t0) / 1000;
      for (let i = 0; i < rows; i++) {
        const e = start + i;
        const s = job.stream[e]!;
        job.states.set(state.subarray(i * S, (i + 1) * S), s * S);
        scaler.toForecast(head, i * O, x, i * D, forecast, 0);
        for (let t = 0; t < T; t++) actual[t] = job.actual[e * T + t]!;
        const scored = scoreAndShift(layout, histories[s]!, job.known[s]!, actual, forecast, sums, oneStep, scratch);
        job.known[s] = scored.known;
        const from = job.sources[job.source[e]!];
        if (from === undefined) throw new RangeError(`step job event ${e} names source ${job.source[e]}, of ${job.sources.length}`);
        const stream = job.streams[s]!;
        const offset = job.offsets[e]!;
        const at = messages.beginValue(stream, model.forecasts.maxBytes(stream, from.topic, offset));
        const end = model.forecasts.writeInto(messages.buffer, at, stream, job.ts[e]!, from.topic, from.partition, offset, forecast, scored.hasOneStepError ? oneStep : null);
        messages.endMessage(end, headers[job.source[e]!], offset);
        if ((job.flags[e]! & END) !== 0) {
          // The stream is over: what follows in this batch starts afresh.
          job.states.fill(0, s * S, (s + 1) * S);
          histories[s]!.fill(0);
          job.known[s] = 0;
        }
      }
    }
    from = waveEnd;
  }
  return { forecasts: messages.finish(), sums, kernelSeconds };
}
