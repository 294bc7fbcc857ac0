import { gateCount, validateWeights } from './spec.ts';
import type { RnnSpec, RnnWeights } from './types.ts';

/** One layer's tensors in float64, shaped like {@link LayerWeights}. */
export interface Float64LayerTensors {
  /** [G*hidden x layerInput] */
  readonly weightIh: Float64Array;
  /** [G*hidden x hidden] */
  readonly weightHh: Float64Array;
  /** [G*hidden] */
  readonly biasIh: Float64Array;
  /** [G*hidden] */
  readonly biasHh: Float64Array;
}

/**
 * A forecaster's parameters (or their gradients) in float64, with the same
 * tensors, shapes and PyTorch layout as {@link RnnWeights}. Every tensor is a
 * view into `flat`, laid out in PyTorch's `state_dict()` order
 * (`rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0, ...,
 * head.weight, head.bias`), so an optimiser or a norm is one loop over `flat`.
 */
export interface Float64Weights extends RnnSpec {
  readonly layers: readonly Float64LayerTensors[];
  readonly headWeight: Float64Array;
  readonly headBias: Float64Array;
  readonly flat: Float64Array;
}

/** Number of parameters of a forecaster of this spec. */
export function parameterCount(spec: RnnSpec): number {
  const { inputSize, hiddenSize: H, numLayers, outputSize } = spec;
  const GH = gateCount(spec.cell) * H;
  let n = 0;
  for (let l = 0; l < numLayers; l++) n += GH * (l === 0 ? inputSize : H) + GH * H + 2 * GH;
  return n + outputSize * H + outputSize;
}

/**
 * Zero-filled float64 tensors for `spec`, all views into one buffer: `flat`
 * when given (it must hold {@link parameterCount} floats; the trainer passes
 * a view of its kernel memory), else a new one.
 */
export function zeroTensors(spec: RnnSpec, flat: Float64Array = new Float64Array(parameterCount(spec))): Float64Weights {
  const { cell, inputSize, hiddenSize: H, numLayers, outputSize } = spec;
  const GH = gateCount(cell) * H;
  if (flat.length !== parameterCount(spec)) throw new RangeError(`flat holds ${flat.length} floats, the spec has ${parameterCount(spec)} parameters`);
  flat.fill(0);
  let at = 0;
  const take = (n: number): Float64Array => {
    const view = flat.subarray(at, at + n);
    at += n;
    return view;
  };
  const layers: Float64LayerTensors[] = [];
  for (let l = 0; l < numLayers; l++) {
    layers.push({ weightIh: take(GH * (l === 0 ? inputSize : H)), weightHh: take(GH * H), biasIh: take(GH), biasHh: take(GH) });
  }
  const headWeight = take(outputSize * H);
  const headBias = take(outputSize);
  return { cell, inputSize, hiddenSize: H, numLayers, outputSize, layers, headWeight, headBias, flat };
}

/** The tensors of `w` in state_dict order, whatever their float width. */
function tensorList(w: RnnWeights | Float64Weights): ArrayLike<number>[] {
  return [...w.layers.flatMap((l) => [l.weightIh, l.weightHh, l.biasIh, l.biasHh]), w.headWeight, w.headBias];
}

/**
 * A float64 copy of `weights` (exact: every float32 is a float64). Float32
 * weights are validated first ({@link validateWeights}); float64 ones must
 * have the spec's sizes.
 */
export function toFloat64(weights: RnnWeights | Float64Weights): Float64Weights {
  if ('flat' in weights) {
    const copy = zeroTensors(weights);
    if (weights.flat.length !== copy.flat.length) {
      throw new RangeError(`float64 weights hold ${weights.flat.length} parameters, the spec needs ${copy.flat.length}`);
    }
    copy.flat.set(weights.flat);
    return copy;
  }
  validateWeights(weights);
  const copy = zeroTensors(weights);
  let at = 0;
  for (const t of tensorList(weights)) {
    for (let i = 0; i < t.length; i++) copy.flat[at++] = t[i]!;
  }
  return copy;
}

/** Float32 weights (each value rounded to nearest) for the steppers and the model artifact. */
export function toFloat32(tensors: Float64Weights): RnnWeights {
  const f = (a: Float64Array): Float32Array => Float32Array.from(a);
  return {
    cell: tensors.cell,
    inputSize: tensors.inputSize,
    hiddenSize: tensors.hiddenSize,
    numLayers: tensors.numLayers,
    outputSize: tensors.outputSize,
    layers: tensors.layers.map((l) => ({ weightIh: f(l.weightIh), weightHh: f(l.weightHh), biasIh: f(l.biasIh), biasHh: f(l.biasHh) })),
    headWeight: f(tensors.headWeight),
    headBias: f(tensors.headBias),
  };
}
