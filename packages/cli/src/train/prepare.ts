import { createScaler, parseManifest } from '@streamcell/model';
import type { FeatureScaler, Scaler, TargetMode } from '@streamcell/model';
import { StreamcellError } from '@streamcell/protocol';
import type { TrainSequence } from '@streamcell/rnn';
import type { Series, SeriesSet } from '@streamcell/datasets';

/** How every series is cut by time; see {@link splitSeries}. */
export interface SplitSettings {
  /** Share of each series, from its start, that training may look at; the rest is held out for `eval`. */
  readonly trainFraction: number;
  /** Share of that training part, taken from its end, used for validation only. 0 = no validation. */
  readonly validationFraction: number;
  /** TBPTT window: a series needs at least window + horizon training rows. */
  readonly window: number;
  readonly horizon: number;
}

/**
 * Where one series is cut. Rows `[0, trainEnd)` train the weights; rows
 * `[trainEnd, heldOutStart)` are the validation part; rows
 * `[heldOutStart, length)` are never seen by training (not even by the
 * scaler) and are what `eval --from <trainFraction>` scores.
 */
export interface SeriesSplit {
  readonly id: string;
  readonly length: number;
  readonly trainEnd: number;
  readonly heldOutStart: number;
}

function invalid(message: string): StreamcellError {
  return new StreamcellError('input_invalid', message);
}

/** Rows of a series before its held-out part: the same rule in `train` and in `eval --from`. */
export function heldOutStart(length: number, fraction: number): number {
  return Math.floor(length * fraction);
}

/**
 * Cuts every series by time: the first `trainFraction` of its rows are the
 * training part, and the last `validationFraction` of those rows form the
 * validation part. Refuses a series whose gradient-training part is shorter
 * than window + horizon, or whose validation part is too short to hold a
 * single target (horizon rows or fewer), naming the series and the counts.
 */
export function splitSeries(series: readonly Series[], settings: SplitSettings): SeriesSplit[] {
  const { trainFraction, validationFraction, window, horizon } = settings;
  return series.map((s) => {
    const held = heldOutStart(s.length, trainFraction);
    const validationRows = Math.floor(held * validationFraction);
    const trainEnd = held - validationRows;
    const name = series.length === 1 ? 'the series' : `series "${s.id}"`;
    const cut = `--train-fraction ${trainFraction}${validationFraction > 0 ? `, --validation-fraction ${validationFraction}` : ''}`;
    if (trainEnd < window + horizon) {
      throw invalid(
        `${name} is too short: of its ${s.length} rows, ${trainEnd} are left for training after the split (${cut}); ` +
          `it needs at least --window + --horizon = ${window} + ${horizon} = ${window + horizon}`,
      );
    }
    if (validationFraction > 0 && validationRows <= horizon) {
      throw invalid(
        `${name} is too short for validation: its validation part has ${validationRows} rows (${cut}), ` +
          `no more than --horizon ${horizon}, so no validation row has a target at every horizon step; use more data, a larger --validation-fraction or --validation-fraction 0`,
      );
    }
    return { id: s.id, length: s.length, trainEnd, heldOutStart: held };
  });
}

/**
 * Mean and standard deviation of every feature over the training rows
 * `[0, trainEnd)` of all series pooled: never the validation or held-out
 * rows, so nothing the model is judged on shapes its inputs. The standard
 * deviation is the sample one (n - 1), as PyTorch's `Tensor.std()`. A
 * feature that is constant over those rows is an error rather than a silent
 * std of 1: it carries no information to learn from, and the service would
 * scale any later change in it by an arbitrary factor.
 */
export function fitScaler(set: SeriesSet, splits: readonly SeriesSplit[]): Scaler {
  const F = set.features.length;
  const sum = new Float64Array(F);
  let n = 0;
  set.series.forEach((s, i) => {
    const end = splits[i]!.trainEnd;
    for (let t = 0; t < end; t++) for (let f = 0; f < F; f++) sum[f] = sum[f]! + s.values[t * F + f]!;
    n += end;
  });
  if (n < 2) throw invalid(`only ${n} training row(s): cannot fit the scaler`);
  const mean = Array.from(sum, (v) => v / n);
  // Second pass on centred values: one-pass sums of squares lose precision on large offsets (prices, epoch times).
  const squares = new Float64Array(F);
  set.series.forEach((s, i) => {
    const end = splits[i]!.trainEnd;
    for (let t = 0; t < end; t++) {
      for (let f = 0; f < F; f++) {
        const d = s.values[t * F + f]! - mean[f]!;
        squares[f] = squares[f]! + d * d;
      }
    }
  });
  const std = Array.from(squares, (v) => Math.sqrt(v / (n - 1)));
  std.forEach((s, f) => {
    // Relative to the mean: a spread at rounding level is as constant as zero for float32 inputs.
    if (!(s > 1e-7 * Math.max(1, Math.abs(mean[f]!)))) {
      throw invalid(
        `feature "${set.features[f]}" is constant (${mean[f]}) over the ${n} training rows, so it cannot be standardised; ` +
          'leave it out of --features',
      );
    }
  });
  return { mean, std };
}

/** The feature scaler the model will be served with, built through the manifest code path so train and serve agree to the bit. */
export function servingScaler(set: SeriesSet, scaler: Scaler, horizon: number, targetMode: TargetMode): FeatureScaler {
  const manifest = parseManifest({
    format: 'streamcell/v1',
    name: 'training',
    version: '0',
    cell: 'lstm',
    inputSize: set.features.length,
    hiddenSize: 1,
    numLayers: 1,
    horizon,
    features: set.features,
    targets: set.targets,
    outputSize: horizon * set.targets.length,
    scaler,
    targetMode,
  });
  return createScaler(manifest);
}

/** Every row of a series scaled to float32 exactly as the worker scales an event. */
export function scaleSeries(series: Series, scaler: FeatureScaler): Float32Array {
  const F = scaler.inputSize;
  const out = new Float32Array(series.length * F);
  for (let t = 0; t < series.length; t++) {
    scaler.scaleRow(series.values.subarray(t * F, (t + 1) * F), out, t * F);
  }
  return out;
}

/**
 * Head targets for rows `[0, rows)` of one scaled series, laid out like the
 * head ([step1 targets..., step2 targets..., ...]). Row t, step k, target j
 * gets `x[t+k][f_j]` (level) or `x[t+k][f_j] - x[t][f_j]` (delta, the change
 * from the last observed value, which is what the scaler adds back), or NaN
 * when `t + k >= limit`: a target that lies past the part this sequence may
 * see is masked, never taken from beyond the cut.
 */
export function headTargets(
  scaled: Float32Array,
  inputSize: number,
  targetIndex: readonly number[],
  horizon: number,
  mode: TargetMode,
  rows: number,
  limit: number,
): Float32Array {
  const T = targetIndex.length;
  const O = horizon * T;
  const y = new Float32Array(rows * O).fill(Number.NaN);
  for (let t = 0; t < rows; t++) {
    for (let k = 1; k <= horizon; k++) {
      if (t + k >= limit) break;
      for (let j = 0; j < T; j++) {
        const f = targetIndex[j]!;
        const future = scaled[(t + k) * inputSize + f]!;
        y[t * O + (k - 1) * T + j] = mode === 'delta' ? future - scaled[t * inputSize + f]! : future;
      }
    }
  }
  return y;
}

/** Training and validation sequences for the trainer. */
export interface PreparedSequences {
  readonly train: TrainSequence[];
  readonly validation: TrainSequence[];
}

/**
 * Builds the trainer's sequences. Each series gives one training sequence
 * (rows `[0, trainEnd)`, targets that would reach `trainEnd` or later masked)
 * and, with a validation part, one validation sequence: rows
 * `[0, heldOutStart)` stepped from a zero state, scored from `trainEnd` on
 * (`scoreFrom`), targets reaching the held-out part masked. So validation
 * rows see the state the service would have built over the rows before them,
 * and no target of either crosses its cut.
 */
export function buildSequences(
  set: SeriesSet,
  splits: readonly SeriesSplit[],
  scaler: FeatureScaler,
  horizon: number,
  mode: TargetMode,
): PreparedSequences {
  const F = set.features.length;
  const train: TrainSequence[] = [];
  const validation: TrainSequence[] = [];
  set.series.forEach((s, i) => {
    const split = splits[i]!;
    const scaled = scaleSeries(s, scaler);
    train.push({
      inputs: scaled.slice(0, split.trainEnd * F),
      targets: headTargets(scaled, F, set.targetIndex, horizon, mode, split.trainEnd, split.trainEnd),
      length: split.trainEnd,
    });
    if (split.heldOutStart > split.trainEnd) {
      validation.push({
        inputs: scaled.slice(0, split.heldOutStart * F),
        targets: headTargets(scaled, F, set.targetIndex, horizon, mode, split.heldOutStart, split.heldOutStart),
        length: split.heldOutStart,
        scoreFrom: split.trainEnd,
      });
    }
  });
  return { train, validation };
}
