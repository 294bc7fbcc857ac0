/**
 * @streamcell/rnn — the recurrent core: pure math, no I/O.
 *
 * Two steppers share one contract ({@link Stepper}, see ./types.ts):
 * - {@link createReferenceStepper}: plain TypeScript, one dot product per gate
 *   row, float64 arithmetic; the readable yardstick.
 * - {@link createStepper}: a WebAssembly SIMD kernel generated at load time for
 *   the model's sizes; what the worker, `streamcell predict` and the benchmark
 *   use. Bitwise independent of batch size and row position.
 */
export { CELL_TYPES } from './types.ts';
export type { CellType, LayerWeights, RnnSpec, RnnWeights, Stepper } from './types.ts';
export { cOffset, gateCount, hOffset, isCellType, stateSize, validateSpec, validateWeights, WeightsError } from './spec.ts';
export { createReferenceStepper } from './reference.ts';
export type { FloatArray, ReferenceStepper } from './reference.ts';
export { createStepper, relaxedSimdSupported } from './fast.ts';
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
