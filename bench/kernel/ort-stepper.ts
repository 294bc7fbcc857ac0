import ort from 'onnxruntime-node';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { RnnSpec, RnnWeights } from '@streamcell/rnn';
import { buildOnnxModel, ONNX_NAMES } from './onnx-graph.ts';

/**
 * Recurrent state in ONNX Runtime's layout: per layer one [batch x hidden]
 * buffer for h and (LSTM) one for c, instead of our one row per stream.
 */
export interface OrtState {
  readonly h: readonly Float32Array[];
  /** Empty unless the cell is an LSTM. */
  readonly c: readonly Float32Array[];
}

/**
 * The same step as our Stepper, through an ONNX Runtime session. A call pays
 * what a caller of ONNX Runtime pays per step: wrapping the (reused) input
 * buffers in tensors, awaiting session.run, and copying the new state and the
 * head's output back into the caller's buffers so that the next step starts
 * from them, as our kernel's in-place update does.
 */
export interface OrtStepper {
  readonly spec: RnnSpec;
  readonly maxBatch: number;
  step(batch: number, x: Float32Array, state: OrtState, out: Float32Array): Promise<void>;
  /** Buffers for `maxBatch` streams in the layout `step` expects. */
  allocateState(): OrtState;
  release(): Promise<void>;
}

/** The session options of the comparison: one thread, all graph optimisations. */
export const ORT_SESSION_OPTIONS: InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  logSeverityLevel: 3,
};

/** Builds the ONNX graph for `weights` and opens a single-threaded CPU session on it. */
export async function createOrtStepper(weights: RnnWeights, maxBatch: number): Promise<OrtStepper> {
  const session = await ort.InferenceSession.create(buildOnnxModel(weights), ORT_SESSION_OPTIONS);
  const { inputSize, hiddenSize, outputSize, numLayers } = weights;
  const lstm = weights.cell === 'lstm';
  const spec: RnnSpec = {
    cell: weights.cell,
    inputSize,
    hiddenSize,
    numLayers,
    outputSize,
  };
  const layers = Array.from({ length: numLayers }, (_, k) => k);
  const floats = (result: InferenceSession.OnnxValueMapType, name: string): Float32Array => {
    const value = result[name];
    if (value === undefined || !(value.data instanceof Float32Array)) throw new Error(`ORT returned no float tensor ${name}`);
    return value.data;
  };

  return {
    spec,
    maxBatch,
    allocateState: () => ({
      h: layers.map(() => new Float32Array(maxBatch * hiddenSize)),
      c: lstm ? layers.map(() => new Float32Array(maxBatch * hiddenSize)) : [],
    }),
    async step(batch, x, state, out) {
      if (batch < 1 || batch > maxBatch) throw new RangeError(`batch ${batch} outside 1..${maxBatch}`);
      const feeds: Record<string, Tensor> = {
        [ONNX_NAMES.x]: new ort.Tensor('float32', x.subarray(0, batch * inputSize), [1, batch, inputSize]),
      };
      const stateDims = [1, batch, hiddenSize];
      const stateLength = batch * hiddenSize;
      for (const k of layers) {
        feeds[ONNX_NAMES.h0(k)] = new ort.Tensor('float32', state.h[k]!.subarray(0, stateLength), stateDims);
        if (lstm) feeds[ONNX_NAMES.c0(k)] = new ort.Tensor('float32', state.c[k]!.subarray(0, stateLength), stateDims);
      }
      const result = await session.run(feeds);
      for (const k of layers) {
        state.h[k]!.set(floats(result, ONNX_NAMES.h(k)));
        if (lstm) state.c[k]!.set(floats(result, ONNX_NAMES.c(k)));
      }
      out.set(floats(result, ONNX_NAMES.out));
    },
    release: () => session.release(),
  };
}

/**
 * Copies our state rows (per stream: h of each layer, then c of each layer)
 * into ORT's per-layer buffers.
 */
export function toOrtState(spec: RnnSpec, batch: number, state: Float32Array, into: OrtState): void {
  forEachStateSlice(spec, batch, into, (row, offset, buffer, at) => {
    buffer.set(state.subarray(row + offset, row + offset + spec.hiddenSize), at);
  });
}

/** Inverse of {@link toOrtState}. */
export function fromOrtState(spec: RnnSpec, batch: number, from: OrtState, state: Float32Array): void {
  forEachStateSlice(spec, batch, from, (row, offset, buffer, at) => {
    state.set(buffer.subarray(at, at + spec.hiddenSize), row + offset);
  });
}

/**
 * Visits every (stream, layer, h-or-c) slice: `row` + `offset` is where it sits
 * in our state rows, `at` where it sits in ORT's `buffer`.
 */
function forEachStateSlice(
  spec: RnnSpec,
  batch: number,
  ortState: OrtState,
  visit: (row: number, offset: number, buffer: Float32Array, at: number) => void,
): void {
  const { hiddenSize: hidden, numLayers } = spec;
  const buffers = [...ortState.h, ...ortState.c];
  const rowSize = buffers.length * hidden;
  if (buffers.length !== numLayers * (spec.cell === 'lstm' ? 2 : 1)) throw new Error('ORT state does not match the spec');
  for (let b = 0; b < batch; b++) {
    buffers.forEach((buffer, j) => visit(b * rowSize, j * hidden, buffer, b * hidden));
  }
}
