import { createEngine } from './engine.ts';
import type { Engine } from './engine.ts';
import { initWeights, seededRandom } from './init.ts';
import { makeLanes, scoredTargets, validateSequences } from './lanes.ts';
import type { Lane, TrainSequence } from './lanes.ts';
import { LOSS_KINDS } from './loss.ts';
import type { LossKind } from './loss.ts';
import { clipByGlobalNorm, createAdam } from './optim.ts';
import { toFloat32, toFloat64, zeroTensors } from './params.ts';
import type { Float64Weights } from './params.ts';
import { validateSpec } from './spec.ts';
import { TrainingError } from './train-error.ts';
import type { RnnSpec, RnnWeights } from './types.ts';

/** Options of {@link train}. */
export interface TrainOptions {
  readonly spec: RnnSpec;
  /** Sequences to fit; cut into lanes by {@link makeLanes}. */
  readonly train: readonly TrainSequence[];
  /**
   * Scored after every epoch with the state carried from row 0 (no
   * gradient); drives early stopping and the best-epoch pick. May be empty
   * (then no early stopping, last epoch kept). For a split by time without
   * leakage, see {@link splitByTime}.
   */
  readonly validation: readonly TrainSequence[];
  /** TBPTT window k: steps per forward/backward pass and per Adam update. */
  readonly window: number;
  /** Most epochs to run (early stopping may end sooner). */
  readonly epochs: number;
  /** Adam's learning rate. */
  readonly lr: number;
  /** Global-norm gradient clip; 0 or Infinity = off. */
  readonly clip: number;
  /** Draws the initial weights (unless `initial` is given); the same seed and data give bitwise the same result. */
  readonly seed: number;
  /** Lanes stepped in parallel; default 32 (see {@link makeLanes}). */
  readonly batchSize?: number;
  /** Default 'mse'. */
  readonly loss?: LossKind;
  /** Huber's delta; default 1. */
  readonly huberDelta?: number;
  /** Early-stopping epochs without validation improvement; default 10. */
  readonly patience?: number;
  /** Start from these instead of initWeights(spec, seededRandom(seed)); must match `spec`. */
  readonly initial?: RnnWeights;
  /** Called after every window update; see {@link TrainProgress}. */
  readonly onProgress?: (p: TrainProgress) => void;
}

/** What {@link train} reports after every window update. */
export interface TrainProgress {
  /** 1-based epoch, out of `epochs`. */
  readonly epoch: number;
  readonly epochs: number;
  /** Window updates done in this epoch, out of `batches` per epoch. */
  readonly batch: number;
  readonly batches: number;
  /** Running mean train loss of this epoch (over all scored entries so far). */
  readonly loss: number;
  /** Set on the epoch's last callback, after the validation pass (when there is validation data). */
  readonly validationLoss?: number;
  /** Milliseconds since train() started. */
  readonly elapsedMs: number;
}

/** One epoch of {@link TrainResult.history}. */
export interface EpochRecord {
  readonly epoch: number;
  /** Mean loss over every scored train entry of the epoch, as the weights moved. */
  readonly trainLoss: number;
  /** Mean loss over every scored validation entry after the epoch; null without validation data. */
  readonly validationLoss: number | null;
  /** Wall time of the epoch including its validation pass. */
  readonly seconds: number;
}

/** What {@link train} returns. */
export interface TrainResult {
  /** Float32 weights of the best validation epoch (or the last when there is no validation). */
  readonly weights: RnnWeights;
  readonly history: readonly EpochRecord[];
  /** 1-based epoch whose weights are returned. */
  readonly bestEpoch: number;
  /** True when patience ran out before `epochs`. */
  readonly stoppedEarly: boolean;
}

interface Settings {
  readonly spec: RnnSpec;
  readonly window: number;
  readonly epochs: number;
  readonly lr: number;
  readonly clip: number;
  readonly seed: number;
  readonly batchSize: number;
  readonly loss: LossKind;
  readonly huberDelta: number;
  readonly patience: number;
}

/** What to try after a divergence: clipping only when it is off. */
function divergenceHint(clip: number): string {
  return clip > 0 && Number.isFinite(clip) ? 'lower lr, or a smaller clip' : 'lower lr or set clip';
}

function configError(option: string, message: string): TrainingError {
  return new TrainingError('config_invalid', `${option}: ${message}`, option);
}

function positiveInt(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw configError(option, `must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function specOf(spec: RnnSpec): RnnSpec {
  try {
    validateSpec(spec);
  } catch (err) {
    throw new TrainingError('config_invalid', `spec: ${(err as Error).message}`, 'spec');
  }
  const { cell, inputSize, hiddenSize, numLayers, outputSize } = spec;
  return { cell, inputSize, hiddenSize, numLayers, outputSize };
}

function settings(options: TrainOptions): Settings {
  const spec = specOf(options.spec);
  const { lr, clip, seed } = options;
  if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0) throw configError('lr', `must be a finite number > 0, got ${String(lr)}`);
  if (typeof clip !== 'number' || Number.isNaN(clip) || clip < 0) throw configError('clip', `must be >= 0 (0 or Infinity = off), got ${String(clip)}`);
  if (typeof seed !== 'number' || !Number.isInteger(seed)) throw configError('seed', `must be an integer, got ${String(seed)}`);
  const loss = options.loss ?? 'mse';
  if (!LOSS_KINDS.includes(loss)) throw configError('loss', `must be one of ${LOSS_KINDS.join(', ')}, got ${JSON.stringify(loss)}`);
  const huberDelta = options.huberDelta ?? 1;
  if (typeof huberDelta !== 'number' || !Number.isFinite(huberDelta) || huberDelta <= 0) {
    throw configError('huberDelta', `must be a finite number > 0, got ${String(huberDelta)}`);
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw configError('onProgress', 'must be a function');
  return {
    spec,
    window: positiveInt('window', options.window),
    epochs: positiveInt('epochs', options.epochs),
    lr,
    clip,
    seed,
    batchSize: positiveInt('batchSize', options.batchSize ?? 32),
    loss,
    huberDelta,
    patience: positiveInt('patience', options.patience ?? 10),
  };
}

function startingWeights(s: Settings, initial: RnnWeights | undefined): Float64Weights {
  if (initial === undefined) return toFloat64(initWeights(s.spec, seededRandom(s.seed)));
  for (const key of ['cell', 'inputSize', 'hiddenSize', 'numLayers', 'outputSize'] as const) {
    if (initial[key] !== s.spec[key]) {
      throw configError('initial', `${key} is ${String(initial[key])} but the spec says ${String(s.spec[key])}`);
    }
  }
  try {
    return toFloat64(initial);
  } catch (err) {
    throw new TrainingError('config_invalid', `initial: ${(err as Error).message}`, 'initial');
  }
}

/** Lanes that step each sequence whole, from row 0: how validation and {@link lossAndGradients} run. */
function wholeLanes(sequences: readonly TrainSequence[]): Lane[] {
  return sequences.map((s, sequence) => ({ sequence, start: 0, length: s.length }));
}

/**
 * Runs whole sequences window by window through `engine` (state carried,
 * no gradient) and returns the mean loss over their scored entries.
 */
function evaluate(engine: Engine, sequences: readonly TrainSequence[], lanes: readonly Lane[], loss: LossKind, delta: number): number {
  const longest = Math.max(0, ...lanes.map((l) => l.length));
  engine.resetState();
  let sum = 0;
  let count = 0;
  for (let from = 0; from < longest; from += engine.window) {
    const steps = Math.min(engine.window, longest - from);
    engine.load(sequences, lanes, from, steps);
    engine.forward(steps);
    const part = engine.loss(loss, delta, steps);
    sum += part.sum;
    count += part.count;
    engine.carry(steps);
  }
  return sum / count;
}

/**
 * Trains a forecaster with truncated backpropagation through time and Adam.
 *
 * Each epoch: lanes from {@link makeLanes} start from a zero state; for each
 * window of `window` steps, all lanes step together (the taped forward pass
 * of ./engine.ts, on the cell equations the served steppers use), the loss is
 * the mean over every non-NaN target entry of the window batch (rows before
 * a sequence's scoreFrom are not scored), the gradient of that mean is
 * back-propagated to the start of the window only, clipped by global norm,
 * and Adam updates the weights; the state then carries into the next window
 * without gradient. A window without any scored entry makes no update.
 * Arithmetic is float64; the result is rounded to float32 once.
 *
 * After each epoch the validation sequences are run whole from a zero state
 * (no gradient) and scored the same way. The weights of the epoch with the
 * lowest validation loss are kept; after `patience` epochs without a new
 * lowest, training stops early. Without validation data, all epochs run and
 * the last weights are kept.
 *
 * Repeatable: nothing is random but the initial weights (seeded), and every
 * sum runs in a fixed order, so the same options give bitwise the same result.
 *
 * Throws a {@link TrainingError}: `config_invalid` for a bad option (or when
 * the loss turns non-finite: lower `lr` or set `clip`), `input_invalid` for
 * sequences that do not fit the spec or hold nothing to score.
 */
export function train(options: TrainOptions): TrainResult {
  const started = performance.now();
  const s = settings(options);
  const { spec, window, epochs, loss, huberDelta } = s;
  validateSequences(spec, options.train, 'train');
  validateSequences(spec, options.validation, 'validation');
  if (scoredTargets(spec, options.train) === 0) throw new TrainingError('input_invalid', 'train: no target to score (all NaN or before scoreFrom)', 'train');
  const validation = options.validation.filter((v) => v.length > 0);
  if (validation.length > 0 && scoredTargets(spec, validation) === 0) {
    throw new TrainingError('input_invalid', 'validation: no target to score (all NaN or before scoreFrom)', 'validation');
  }
  const start = startingWeights(s, options.initial);

  const lanes = makeLanes(options.train, s.batchSize);
  const engine = createEngine(spec, lanes.length, window);
  const params = engine.params.flat;
  params.set(start.flat);
  const adam = createAdam(params.length, { lr: s.lr });
  const longest = Math.max(...lanes.map((l) => l.length));
  const batches = Math.ceil(longest / window);
  const valLanes = wholeLanes(validation);
  const valEngine = validation.length > 0 ? createEngine(spec, validation.length, window) : null;

  const history: EpochRecord[] = [];
  let best = Infinity;
  let bestEpoch = 0;
  const bestParams = Float64Array.from(params);
  let sinceBest = 0;
  let stoppedEarly = false;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const epochStart = performance.now();
    engine.resetState();
    let sum = 0;
    let count = 0;
    for (let batch = 1; batch <= batches; batch++) {
      const from = (batch - 1) * window;
      const steps = Math.min(window, longest - from);
      engine.load(options.train, lanes, from, steps);
      engine.forward(steps);
      const part = engine.loss(loss, huberDelta, steps);
      if (part.count > 0) {
        if (!Number.isFinite(part.sum)) {
          throw configError('lr', `training diverged: the loss is ${part.sum} at epoch ${epoch}, window ${batch}; ${divergenceHint(s.clip)}`);
        }
        engine.backward(loss, huberDelta, steps, part.count);
        clipByGlobalNorm(engine.grads.flat, s.clip);
        adam.step(params, engine.grads.flat);
        sum += part.sum;
        count += part.count;
      }
      engine.carry(steps);
      if (batch < batches && options.onProgress !== undefined) {
        options.onProgress({ epoch, epochs, batch, batches, loss: sum / count, elapsedMs: performance.now() - started });
      }
    }
    let validationLoss: number | null = null;
    if (valEngine !== null) {
      valEngine.params.flat.set(params);
      validationLoss = evaluate(valEngine, validation, valLanes, loss, huberDelta);
      // NaN or Infinity never compares below the best: without this the untrained weights would be kept silently.
      if (!Number.isFinite(validationLoss)) {
        throw configError('lr', `training diverged: the validation loss is ${validationLoss} after epoch ${epoch} (the state grows without bound over the validation rows); ${divergenceHint(s.clip)}`);
      }
    }
    const trainLoss = sum / count;
    history.push({ epoch, trainLoss, validationLoss, seconds: (performance.now() - epochStart) / 1000 });
    options.onProgress?.({
      epoch,
      epochs,
      batch: batches,
      batches,
      loss: trainLoss,
      ...(validationLoss === null ? {} : { validationLoss }),
      elapsedMs: performance.now() - started,
    });
    if (validationLoss === null) {
      bestEpoch = epoch;
      continue;
    }
    if (validationLoss < best) {
      best = validationLoss;
      bestEpoch = epoch;
      bestParams.set(params);
      sinceBest = 0;
    } else if (++sinceBest >= s.patience) {
      stoppedEarly = epoch < epochs;
      break;
    }
  }
  if (valEngine === null) bestParams.set(params);
  const kept = zeroTensors(spec);
  kept.flat.set(bestParams);
  return { weights: toFloat32(kept), history, bestEpoch, stoppedEarly };
}

/** Options of {@link lossAndGradients}. */
export interface LossOptions {
  /** Default 'mse'. */
  readonly loss?: LossKind;
  /** Default 1. */
  readonly huberDelta?: number;
  /** Compute gradients (default true); false gives the loss only. */
  readonly gradients?: boolean;
}

/** What {@link lossAndGradients} returns. */
export interface LossAndGradients {
  /** Mean loss over every scored target entry of all sequences. */
  readonly loss: number;
  /** Scored entries (non-NaN targets at or after scoreFrom). */
  readonly count: number;
  /** d loss / d parameter, shaped like the weights; null when not asked for. */
  readonly gradients: Float64Weights | null;
}

/**
 * Loss and gradients of a whole model over whole sequences: each sequence
 * from a zero state to its end with no TBPTT cut, all of them one batch,
 * the loss the mean over every scored target entry. Float64 throughout
 * (float32 weights are widened exactly), for gradient checks and PyTorch
 * parity; the trainer runs the same code window by window.
 */
export function lossAndGradients(
  weights: RnnWeights | Float64Weights,
  sequences: readonly TrainSequence[],
  options: LossOptions = {},
): LossAndGradients {
  const spec = specOf(weights);
  const kind = options.loss ?? 'mse';
  if (!LOSS_KINDS.includes(kind)) throw configError('loss', `must be one of ${LOSS_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  const delta = options.huberDelta ?? 1;
  validateSequences(spec, sequences, 'sequences');
  const lanes = wholeLanes(sequences);
  const longest = Math.max(0, ...lanes.map((l) => l.length));
  if (longest === 0 || scoredTargets(spec, sequences) === 0) {
    throw new TrainingError('input_invalid', 'sequences: no target to score (all NaN or before scoreFrom)', 'sequences');
  }
  const engine = createEngine(spec, lanes.length, longest);
  engine.params.flat.set(toFloat64(weights).flat);
  engine.resetState();
  engine.load(sequences, lanes, 0, longest);
  engine.forward(longest);
  const { sum, count } = engine.loss(kind, delta, longest);
  if (options.gradients === false) return { loss: sum / count, count, gradients: null };
  engine.backward(kind, delta, longest, count);
  return { loss: sum / count, count, gradients: engine.grads };
}

/**
 * Splits one sequence by time for training and validation without leakage.
 * `horizon` is how many future steps each row's targets cover, laid out step
 * by step ([step 1 targets..., step 2 targets..., ...], outputSize = horizon x
 * targets), where step s of row t is the value at row t + s.
 *
 * - train: rows [0, at); a target entry of row t for step s is masked (NaN)
 *   when t + s >= at, so no training target comes from the validation part.
 * - validation: the whole sequence with scoreFrom = at: rows before `at`
 *   only warm the state, rows from `at` on are scored.
 */
export function splitByTime(sequence: TrainSequence, at: number, horizon: number): { train: TrainSequence; validation: TrainSequence } {
  const { length } = sequence;
  if (!Number.isInteger(at) || at < 1 || at >= length) throw configError('at', `must be an integer in [1, ${length - 1}], got ${String(at)}`);
  if (!Number.isInteger(horizon) || horizon < 1 || length === 0 || sequence.targets.length % (length * horizon) !== 0) {
    throw configError('horizon', `must be a positive integer dividing the targets per row, got ${String(horizon)}`);
  }
  const O = sequence.targets.length / length;
  const I = sequence.inputs.length / length;
  const perStep = O / horizon;
  const targets = sequence.targets.slice(0, at * O);
  for (let t = Math.max(0, at - horizon); t < at; t++) {
    for (let step = 1; step <= horizon; step++) {
      if (t + step >= at) targets.fill(NaN, t * O + (step - 1) * perStep, t * O + step * perStep);
    }
  }
  const train: TrainSequence = {
    inputs: sequence.inputs.slice(0, at * I),
    targets,
    length: at,
    ...(sequence.scoreFrom === undefined ? {} : { scoreFrom: Math.min(sequence.scoreFrom, at) }),
  };
  const validation: TrainSequence = { ...sequence, scoreFrom: Math.max(at, sequence.scoreFrom ?? 0) };
  return { train, validation };
}
