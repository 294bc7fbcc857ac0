import { readSeriesCsv } from '@streamcell/datasets';
import type { Series, SeriesColumns } from '@streamcell/datasets';
import type { LoadedModel } from '@streamcell/model';
import { StreamcellError } from '@streamcell/protocol';
import { predictRows } from '../predict.ts';
import type { InputRow } from '../input.ts';
import { heldOutStart } from '../train/prepare.ts';
import { scoreForecasts } from './metrics.ts';
import type { ScoredSeries, Scores } from './metrics.ts';

/** What {@link evaluateModel} reads and how it scores. */
export interface EvalSettings {
  readonly file: string;
  /** CSV columns: `features` in the model's feature order (names may differ from the manifest's). */
  readonly columns: SeriesColumns;
  /** Positions, among the model's targets, of the targets to score. */
  readonly scoredTargets: readonly number[];
  /** Share of each series before the scored part (the same cut as `train --train-fraction`). */
  readonly from: number;
  readonly season?: number;
}

/** One series with the model's forecasts, for plots. */
export interface ForecastSeries {
  readonly series: Series;
  /** [length x outputSize], exactly what `predict` prints for this series. */
  readonly forecast: Float64Array;
  readonly from: number;
}

/** The result of {@link evaluateModel}. */
export interface Evaluation {
  readonly scores: Scores;
  readonly series: readonly ForecastSeries[];
  /** Names (CSV column names) of the scored targets. */
  readonly targets: readonly string[];
  /** Positions of the scored targets among the model's targets. */
  readonly scoredTargets: readonly number[];
}

function rowsOf(series: Series, F: number): InputRow[] {
  return Array.from({ length: series.length }, (_, t) => ({ line: series.lines[t]!, values: series.values.subarray(t * F, (t + 1) * F) }));
}

/**
 * The forecasts a model publishes at every row of a series: `predictRows`
 * (the worker's kernel and scaler, from a zero state), row by row in order,
 * so eval scores exactly what the service would have published online.
 */
export async function forecastSeries(model: LoadedModel, series: Series, file: string): Promise<Float64Array> {
  const O = model.manifest.outputSize;
  const out = new Float64Array(series.length * O);
  let t = 0;
  for await (const step of predictRows(model, rowsOf(series, model.manifest.inputSize), { source: file })) {
    out.set(step.forecast, t * O);
    t++;
  }
  return out;
}

/**
 * Steps the model through every series of the file and scores the rows from
 * `floor(length · from)` on (see {@link scoreForecasts} for the metrics and
 * the baselines).
 */
export async function evaluateModel(model: LoadedModel, settings: EvalSettings): Promise<Evaluation> {
  const { manifest } = model;
  const F = manifest.inputSize;
  if (settings.columns.features.length !== F) {
    throw new StreamcellError('usage', `--features lists ${settings.columns.features.length} columns; the model has ${F} features (${manifest.features.join(', ')})`);
  }
  const set = await readSeriesCsv(settings.file, settings.columns);
  const T = manifest.targets.length;
  const H = manifest.horizon;
  const S = settings.scoredTargets.length;
  // Feature index (in model order) of every scored target.
  const targetFeature = settings.scoredTargets.map((j) => manifest.features.indexOf(manifest.targets[j]!));
  const scale = targetFeature.map((f) => manifest.scaler?.std[f] ?? 1);
  const targets = targetFeature.map((f) => set.features[f]!);

  const scored: ScoredSeries[] = [];
  const forecasts: ForecastSeries[] = [];
  for (const s of set.series) {
    const from = heldOutStart(s.length, settings.from);
    const forecast = await forecastSeries(model, s, settings.file);
    forecasts.push({ series: s, forecast, from });
    const actual = new Float64Array(s.length * S);
    const picked = new Float64Array(s.length * H * S);
    for (let t = 0; t < s.length; t++) {
      for (let j = 0; j < S; j++) {
        actual[t * S + j] = s.values[t * F + targetFeature[j]!]!;
        for (let k = 0; k < H; k++) picked[(t * H + k) * S + j] = forecast[t * H * T + k * T + settings.scoredTargets[j]!]!;
      }
    }
    scored.push({ id: s.id, length: s.length, actual, forecast: picked, from });
  }
  const scores = scoreForecasts(scored, {
    horizon: H,
    targets,
    scale,
    ...(settings.season === undefined ? {} : { season: settings.season }),
  });
  if (scores.count[0] === 0) {
    throw new StreamcellError(
      'input_invalid',
      `${settings.file}: nothing to score: no series has a row after the first ${settings.from} of its rows with an actual value ${H === 1 ? 'one step' : `${H} steps`} later`,
    );
  }
  return { scores, series: forecasts, targets, scoredTargets: settings.scoredTargets };
}
