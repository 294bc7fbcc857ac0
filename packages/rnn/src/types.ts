/** The recurrent cells streamcell serves, with PyTorch's equations and gate order. */
export const CELL_TYPES = ['lstm', 'gru', 'rnn_tanh', 'rnn_relu'] as const;

/** One of {@link CELL_TYPES}. */
export type CellType = (typeof CELL_TYPES)[number];

/** Shape of a stacked recurrent forecaster: cell layers followed by one linear head. */
export interface RnnSpec {
  readonly cell: CellType;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  /** Width of the linear head: horizon x targets. */
  readonly outputSize: number;
}

/**
 * Weights of one layer, row-major, in PyTorch's layout and gate order
 * (LSTM i,f,g,o; GRU r,z,n; RNN a single gate). G = gates per cell.
 */
export interface LayerWeights {
  /** [G*hidden x layerInput] (layerInput = inputSize for layer 0, hiddenSize above). */
  readonly weightIh: Float32Array;
  /** [G*hidden x hidden] */
  readonly weightHh: Float32Array;
  /** [G*hidden] */
  readonly biasIh: Float32Array;
  /** [G*hidden] */
  readonly biasHh: Float32Array;
}

/** All weights of a forecaster: `rnn.*_l{k}` per layer plus `head.weight` / `head.bias`. */
export interface RnnWeights extends RnnSpec {
  readonly layers: readonly LayerWeights[];
  /** [outputSize x hiddenSize] */
  readonly headWeight: Float32Array;
  /** [outputSize] */
  readonly headBias: Float32Array;
}

/**
 * Steps B streams once. Buffers are caller-owned and laid out row by row:
 * `x` is [batch x inputSize]; `state` is [batch x stateSize(spec)] and is
 * updated in place; `out` receives [batch x outputSize] (the head applied to
 * the top layer's new h).
 *
 * A stream's results are bitwise identical whatever `batch` is and whatever
 * its row in the batch: replay after a crash depends on it.
 */
export interface Stepper {
  readonly spec: RnnSpec;
  /** Largest batch one call accepts. */
  readonly maxBatch: number;
  step(batch: number, x: Float32Array, state: Float32Array, out: Float32Array): void;
}
