import { CELL_TYPES } from './types.ts';
import type { CellType, LayerWeights, RnnSpec, RnnWeights } from './types.ts';

/**
 * Raised when weights do not fit their spec. `tensor` is the PyTorch
 * `state_dict()` name, so an operator can find the offending tensor in the
 * artifact; the model package wraps this into its own error code.
 */
export class WeightsError extends Error {
  readonly tensor: string | undefined;

  constructor(message: string, tensor?: string) {
    super(message);
    this.name = 'WeightsError';
    this.tensor = tensor;
  }
}

/** True when `cell` is one of the cells streamcell can step. */
export function isCellType(cell: unknown): cell is CellType {
  return typeof cell === 'string' && (CELL_TYPES as readonly string[]).includes(cell);
}

function assertCell(cell: unknown): asserts cell is CellType {
  if (!isCellType(cell)) {
    throw new WeightsError(`unsupported cell ${JSON.stringify(cell)}; expected one of ${CELL_TYPES.join(', ')}`);
  }
}

/**
 * Gate rows stacked in each weight matrix: LSTM 4 (i,f,g,o), GRU 3 (r,z,n),
 * plain RNN 1. Throws for a cell we do not support rather than guessing.
 */
export function gateCount(cell: CellType): number {
  switch (cell) {
    case 'lstm':
      return 4;
    case 'gru':
      return 3;
    case 'rnn_tanh':
    case 'rnn_relu':
      return 1;
    default:
      assertCell(cell);
      throw new WeightsError(`unsupported cell ${JSON.stringify(cell)}`);
  }
}

/**
 * Floats of recurrent state per stream: h of every layer (layer 0 first),
 * then, for LSTM only, c of every layer. This is the row width of the
 * `state` buffer every stepper reads and writes, and what the state store
 * persists.
 */
export function stateSize(spec: RnnSpec): number {
  const perLayer = spec.cell === 'lstm' ? 2 : 1;
  gateCount(spec.cell);
  return perLayer * spec.numLayers * spec.hiddenSize;
}

/** Float offset of layer `layer`'s h inside one stream's state row. */
export function hOffset(spec: RnnSpec, layer: number): number {
  return layer * spec.hiddenSize;
}

/** Float offset of layer `layer`'s c inside one stream's state row (LSTM only). */
export function cOffset(spec: RnnSpec, layer: number): number {
  return (spec.numLayers + layer) * spec.hiddenSize;
}

function assertPositiveInt(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new WeightsError(`${name} must be a positive integer, got ${String(value)}`);
  }
}

/** Checks the spec's shape fields; the steppers rely on them being sane integers. */
export function validateSpec(spec: RnnSpec): void {
  assertCell(spec.cell);
  assertPositiveInt('inputSize', spec.inputSize);
  assertPositiveInt('hiddenSize', spec.hiddenSize);
  assertPositiveInt('numLayers', spec.numLayers);
  assertPositiveInt('outputSize', spec.outputSize);
}

function checkTensor(name: string, data: unknown, expected: number, shape: string): void {
  if (!(data instanceof Float32Array)) {
    throw new WeightsError(`${name}: expected a Float32Array of ${expected} floats ${shape}, got ${typeof data}`, name);
  }
  if (data.length !== expected) {
    throw new WeightsError(`${name}: expected ${expected} floats ${shape}, got ${data.length}`, name);
  }
  for (let i = 0; i < data.length; i++) {
    // A NaN or infinite weight poisons every stream that touches it; refuse it at load time.
    if (!Number.isFinite(data[i]!)) {
      throw new WeightsError(`${name}: non-finite value ${data[i]} at index ${i}`, name);
    }
  }
}

/**
 * Checks every tensor against the spec (length, float32, finite) and throws a
 * {@link WeightsError} naming the PyTorch tensor (`rnn.weight_ih_l0`,
 * `head.bias`, ...) at the first mismatch. Both steppers call it, so a bad
 * artifact fails at load time instead of producing silent garbage.
 */
export function validateWeights(weights: RnnWeights): void {
  validateSpec(weights);
  const { cell, inputSize, hiddenSize: H, numLayers, outputSize } = weights;
  const G = gateCount(cell);
  // Weights often come from parsed files; do not trust the static type alone.
  const layers = weights.layers as readonly LayerWeights[] | undefined;
  if (layers === undefined || layers.length !== numLayers) {
    throw new WeightsError(`expected ${numLayers} layers of rnn.* tensors, got ${layers?.length ?? 'none'}`);
  }
  layers.forEach((layer, k) => {
    const layerInput = k === 0 ? inputSize : H;
    checkTensor(`rnn.weight_ih_l${k}`, layer.weightIh, G * H * layerInput, `[${G * H} x ${layerInput}]`);
    checkTensor(`rnn.weight_hh_l${k}`, layer.weightHh, G * H * H, `[${G * H} x ${H}]`);
    checkTensor(`rnn.bias_ih_l${k}`, layer.biasIh, G * H, `[${G * H}]`);
    checkTensor(`rnn.bias_hh_l${k}`, layer.biasHh, G * H, `[${G * H}]`);
  });
  checkTensor('head.weight', weights.headWeight, outputSize * H, `[${outputSize} x ${H}]`);
  checkTensor('head.bias', weights.headBias, outputSize, `[${outputSize}]`);
}

/** Throws unless `batch` is an integer in [0, maxBatch] and the buffers hold `batch` rows. */
export function checkStepArgs(
  spec: RnnSpec,
  maxBatch: number,
  batch: number,
  x: ArrayLike<number>,
  state: ArrayLike<number>,
  out: ArrayLike<number>,
): void {
  if (!Number.isInteger(batch) || batch < 0 || batch > maxBatch) {
    throw new RangeError(`batch ${batch} is outside [0, ${maxBatch}] (maxBatch of this stepper)`);
  }
  if (x.length < batch * spec.inputSize) {
    throw new RangeError(`x holds ${x.length} floats, batch ${batch} needs ${batch * spec.inputSize}`);
  }
  const s = stateSize(spec);
  if (state.length < batch * s) {
    throw new RangeError(`state holds ${state.length} floats, batch ${batch} needs ${batch * s}`);
  }
  if (out.length < batch * spec.outputSize) {
    throw new RangeError(`out holds ${out.length} floats, batch ${batch} needs ${batch * spec.outputSize}`);
  }
}

/** Throws unless maxBatch is a positive integer. */
export function checkMaxBatch(maxBatch: number): void {
  if (!Number.isInteger(maxBatch) || maxBatch < 1) {
    throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
  }
}
