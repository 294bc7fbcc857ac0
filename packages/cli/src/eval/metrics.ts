import { StreamcellError } from '@streamcell/protocol';

/** One series as the scorer sees it. */
export interface ScoredSeries {
  readonly id: string;
  readonly length: number;
  /** [length x T]: the actual values of the scored targets, raw units. */
  readonly actual: Float64Array;
  /** [length x horizon x T]: the model's forecasts made at each row, laid out like the head; raw units. */
  readonly forecast: Float64Array;
  /** First forecast origin scored: rows before it are the in-sample part. */
  readonly from: number;
}

/** What {@link scoreForecasts} needs besides the series. */
export interface ScoreSettings {
  readonly horizon: number;
  /** Names of the T scored targets. */
  readonly targets: readonly string[];
  /** Scaler std of each target (1 without a scaler): divides the errors that are averaged over targets. */
  readonly scale: readonly number[];
  /** Rows per season for the seasonal naive baseline; omitted = no seasonal baseline. */
  readonly season?: number;
}

/** Per horizon step (index k-1 for k steps ahead); null where undefined (a zero denominator, nothing scored). */
export interface Metrics {
  readonly mae: (number | null)[];
  readonly rmse: (number | null)[];
  /** Symmetric MAPE in percent, 0..200: mean of 200·|f - y| / (|f| + |y|), a pair with f = y = 0 counting 0. */
  readonly smape: (number | null)[];
  /** MAE divided by the in-sample one-step naive MAE (rows before `from`). */
  readonly mase: (number | null)[];
}

/** Scores of one forecaster, per step. */
export interface MethodScores extends Metrics {
  /** Forecast origins scored at each step. */
  readonly count: number[];
}

/** The scores of one target, raw units. */
export interface TargetScores extends Metrics {
  /** 1 - mae / naive.mae per step. */
  readonly skill: (number | null)[];
  readonly naive: Metrics;
  readonly seasonal_naive?: Metrics;
}

/** The whole evaluation. Top-level arrays average over targets as {@link scoreForecasts} documents. */
export interface Scores extends Metrics {
  readonly steps: number[];
  readonly count: number[];
  readonly skill: (number | null)[];
  readonly naive: Metrics;
  readonly seasonal_naive?: Metrics;
  readonly seasonal_skill?: (number | null)[];
  readonly per_target: Record<string, TargetScores>;
}

interface Sums {
  abs: Float64Array;
  sq: Float64Array;
  smape: Float64Array;
  count: Float64Array;
}

function sums(size: number): Sums {
  return { abs: new Float64Array(size), sq: new Float64Array(size), smape: new Float64Array(size), count: new Float64Array(size) };
}

function add(s: Sums, i: number, f: number, y: number): void {
  const d = Math.abs(f - y);
  s.abs[i] = s.abs[i]! + d;
  s.sq[i] = s.sq[i]! + d * d;
  const denominator = Math.abs(f) + Math.abs(y);
  s.smape[i] = s.smape[i]! + (denominator === 0 ? 0 : (200 * d) / denominator);
  s.count[i] = s.count[i]! + 1;
}

const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);

/** Per target j and step k: the metrics from the sums at index (k-1)·T + j. */
function metricsOf(s: Sums, horizon: number, T: number, j: number, naiveScale: number | null): Metrics {
  const mae: (number | null)[] = [];
  const rmse: (number | null)[] = [];
  const smape: (number | null)[] = [];
  const mase: (number | null)[] = [];
  for (let k = 0; k < horizon; k++) {
    const i = k * T + j;
    const n = s.count[i]!;
    const m = n === 0 ? null : s.abs[i]! / n;
    mae.push(m);
    rmse.push(n === 0 ? null : Math.sqrt(s.sq[i]! / n));
    smape.push(n === 0 ? null : s.smape[i]! / n);
    mase.push(ratio(m, naiveScale));
  }
  return { mae, rmse, smape, mase };
}

/** Mean over targets of per-target values, each divided by `scale[j]` (1s for unit-free metrics); null if any is null. */
function across(perTarget: readonly (readonly (number | null)[])[], scale: readonly number[] | null, horizon: number): (number | null)[] {
  const out: (number | null)[] = [];
  for (let k = 0; k < horizon; k++) {
    let sum = 0;
    let missing = false;
    perTarget.forEach((values, j) => {
      const v = values[k];
      if (v === null || v === undefined) missing = true;
      else sum += scale === null ? v : v / scale[j]!;
    });
    out.push(missing ? null : sum / perTarget.length);
  }
  return out;
}

function averaged(per: readonly Metrics[], scale: readonly number[], horizon: number): Metrics {
  return {
    mae: across(per.map((m) => m.mae), scale, horizon),
    rmse: across(per.map((m) => m.rmse), scale, horizon),
    smape: across(per.map((m) => m.smape), null, horizon),
    mase: across(per.map((m) => m.mase), null, horizon),
  };
}

function skillOf(model: readonly (number | null)[], baseline: readonly (number | null)[]): (number | null)[] {
  return model.map((m, k) => {
    const r = ratio(m, baseline[k] ?? null);
    return r === null ? null : 1 - r;
  });
}

/**
 * Scores forecasts against the actual values and against two baselines.
 *
 * Forecast origins: every row t with `from <= t` and `t + k < length` is
 * scored at step k (k = 1..horizon): the forecast made after stepping row t
 * against the actual value of row t + k. Baselines at the same origins:
 * `naive` (persistence) forecasts y[t + k] as y[t]; `seasonal_naive` as
 * the same point of the last season observed at t, y[t + k - season·⌈k/season⌉]
 * (y[t + k - season] while k <= season; a longer horizon reaches back whole
 * seasons rather than into rows after t). It needs `season <= from` in every
 * series, so that the value lies in the series. MASE divides each MAE by the one-step naive MAE over
 * the in-sample rows (|y[t] - y[t-1]| for 1 <= t < from, all series pooled),
 * per target.
 *
 * `per_target` holds each target's metrics in raw units. The top-level
 * `mae` and `rmse` are the mean over targets of each target's value divided
 * by its scaler std (`scale`), i.e. in the model's scaled units, so that
 * targets measured in different units weigh alike; `smape` and `mase` are
 * unit-free and simply averaged. `skill` = 1 - mae / naive.mae on those
 * averages (and per target on raw MAEs): positive means better than
 * persistence.
 */
export function scoreForecasts(series: readonly ScoredSeries[], settings: ScoreSettings): Scores {
  const { horizon, targets, scale, season } = settings;
  const T = targets.length;
  if (scale.length !== T) throw new RangeError(`scale has ${scale.length} entries for ${T} targets`);
  const model = sums(horizon * T);
  const naive = sums(horizon * T);
  const seasonal = season === undefined ? null : sums(horizon * T);
  const inSample = new Float64Array(T);
  let inSampleCount = 0;

  for (const s of series) {
    const { actual, forecast, from, length } = s;
    if (season !== undefined && season > from) {
      throw new StreamcellError(
        'usage',
        `--season ${season} is longer than the ${from} rows before the scored part of series "${s.id}": the seasonal naive forecast would need rows before the series starts`,
      );
    }
    for (let t = 1; t < from; t++) {
      for (let j = 0; j < T; j++) inSample[j] = inSample[j]! + Math.abs(actual[t * T + j]! - actual[(t - 1) * T + j]!);
    }
    inSampleCount += Math.max(0, from - 1);
    for (let t = from; t < length; t++) {
      for (let k = 1; k <= horizon && t + k < length; k++) {
        for (let j = 0; j < T; j++) {
          const i = (k - 1) * T + j;
          const y = actual[(t + k) * T + j]!;
          add(model, i, forecast[t * horizon * T + i]!, y);
          add(naive, i, actual[t * T + j]!, y);
          if (seasonal !== null) add(seasonal, i, actual[(t + k - season! * Math.ceil(k / season!)) * T + j]!, y);
        }
      }
    }
  }

  const perTarget: Record<string, TargetScores> = {};
  const modelPer: Metrics[] = [];
  const naivePer: Metrics[] = [];
  const seasonalPer: Metrics[] = [];
  targets.forEach((name, j) => {
    const denominator = inSampleCount === 0 ? null : inSample[j]! / inSampleCount;
    const m = metricsOf(model, horizon, T, j, denominator);
    const n = metricsOf(naive, horizon, T, j, denominator);
    const sn = seasonal === null ? undefined : metricsOf(seasonal, horizon, T, j, denominator);
    modelPer.push(m);
    naivePer.push(n);
    if (sn !== undefined) seasonalPer.push(sn);
    perTarget[name] = { ...m, skill: skillOf(m.mae, n.mae), naive: n, ...(sn === undefined ? {} : { seasonal_naive: sn }) };
  });
  const top = averaged(modelPer, scale, horizon);
  const topNaive = averaged(naivePer, scale, horizon);
  const topSeasonal = seasonal === null ? undefined : averaged(seasonalPer, scale, horizon);
  return {
    steps: Array.from({ length: horizon }, (_, k) => k + 1),
    count: Array.from({ length: horizon }, (_, k) => model.count[k * T]!),
    ...top,
    skill: skillOf(top.mae, topNaive.mae),
    naive: topNaive,
    ...(topSeasonal === undefined ? {} : { seasonal_naive: topSeasonal, seasonal_skill: skillOf(top.mae, topSeasonal.mae) }),
    per_target: perTarget,
  };
}
