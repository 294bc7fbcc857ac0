/**
 * @streamcell/rnn — the recurrent core: pure math, no I/O.
 *
 * Two steppers share one contract ({@link Stepper}, see ./types.ts):
 * - {@link createReferenceStepper}: plain TypeScript, one dot product per gate
 *   row, float64 arithmetic; the readable yardstick.
 * - {@link createStepper}: a WebAssembly SIMD kernel generated at load time for
 *   the model's sizes; what the worker, `streamcell predict` and the benchmark
 *   use. Bitwise independent of batch size and row position.
 *
 * Training ({@link train}): truncated backpropagation through time with Adam,
 * global-norm clipping, MSE/MAE/Huber, early stopping on a validation set and
 * a seed that makes runs bitwise repeatable. Its forward pass runs the cell
 * equations of ./cells.ts, the reference stepper's own, batched over lanes
 * with the gate activations kept for the backward pass: the trainer's
 * forecasts equal the reference's exactly and the fast kernel's within 1e-5
 * (tested). In short:
 *
 * ```ts
 * const { train: fit, validation } = splitByTime(sequence, cut, horizon); // no leakage
 * const result = train({ spec, train: [fit], validation: [validation], window: 32, epochs: 50,
 *                        lr: 3e-3, clip: 1, seed: 1, onProgress: (p) => ... });
 * result.weights; // float32 RnnWeights of the best validation epoch
 * ```
 *
 * - Data: {@link TrainSequence} per series, already scaled: `inputs`
 *   [length x inputSize], `targets` [length x outputSize] with NaN where
 *   there is no target, `scoreFrom` to warm the state on rows that are not
 *   scored.
 * - Batching: {@link makeLanes} documents how sequences become parallel lanes
 *   (the PyTorch benchmark reimplements it).
 * - Loss: the mean over every non-NaN target entry of a window batch.
 * - Errors: {@link TrainingError} with `code` `config_invalid` (an option; its
 *   name in `option`) or `input_invalid` (sequences), the codes of
 *   @streamcell/protocol.
 * - Checks: {@link lossAndGradients} gives the loss and float64 gradients of
 *   whole sequences (no TBPTT cut) for gradient checks and PyTorch parity;
 *   packages/rnn/python/make_train_fixtures.py writes the PyTorch fixtures.
 */
export { CELL_TYPES } from './types.ts';
export type { CellType, LayerWeights, RnnSpec, RnnWeights, Stepper } from './types.ts';
export { cOffset, gateCount, hOffset, isCellType, stateSize, validateSpec, validateWeights, WeightsError } from './spec.ts';
export { createReferenceStepper } from './reference.ts';
export type { FloatArray, ReferenceStepper } from './reference.ts';
export { createStepper, relaxedSimdSupported } from './fast.ts';
export { REVECTORIZE_ENV, wasmRevectorize } from './wasm/runtime.ts';
export { measureFmaPeak } from './peak.ts';
export type { FmaPeak } from './peak.ts';
export type { FastStepper, StepperBuffers, StepperOptions } from './fast.ts';
export { initWeights, seededRandom, uniform } from './init.ts';
export type { Random } from './init.ts';
export { train, lossAndGradients, splitByTime } from './train.ts';
export type { EpochRecord, LossAndGradients, LossOptions, TrainOptions, TrainProgress, TrainResult } from './train.ts';
export { makeLanes } from './lanes.ts';
export type { Lane, TrainSequence } from './lanes.ts';
export { LOSS_KINDS } from './loss.ts';
export type { LossKind } from './loss.ts';
export { clipByGlobalNorm, createAdam, globalNorm } from './optim.ts';
export type { Adam, AdamOptions } from './optim.ts';
export { parameterCount, toFloat32, toFloat64, zeroTensors } from './params.ts';
export type { Float64LayerTensors, Float64Weights } from './params.ts';
export { TrainingError } from './train-error.ts';
