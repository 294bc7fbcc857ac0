import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '@streamcell/model';
import { evaluateModel } from '../src/eval/evaluate.ts';
import { scoreForecasts } from '../src/eval/metrics.ts';
import type { ScoredSeries } from '../src/eval/metrics.ts';
import { cli, lines, tempDir } from './helpers.ts';

/** The parts of eval's JSON these tests look at. */
interface EvalOutput extends Record<string, unknown> {
  naive: Record<string, unknown[]>;
  seasonal_naive: Record<string, unknown[]>;
  per_target: Record<string, unknown>;
}

let dir: string;
let csv: string;
let deltaModel: string;
const ROWS = 150;

beforeAll(async () => {
  dir = await tempDir();
  csv = join(dir, 'one.csv');
  const rows = Array.from({ length: ROWS }, (_, t) => `${t},${(20 + 4 * Math.sin(t / 5) + 0.4 * Math.cos(t * 1.3)).toFixed(3)},${(50 + 10 * Math.cos(t / 7)).toFixed(3)}`);
  await writeFile(csv, `t,temp,hum\n${rows.join('\n')}\n`);
  deltaModel = join(dir, 'delta');
  const run = await cli([
    'train', '--data', csv, '--features', 'temp,hum', '--targets', 'temp,hum', '--time-column', 't', '--out', deltaModel,
    '--target-mode', 'delta', '--hidden', '6', '--window', '10', '--horizon', '3', '--epochs', '4', '--batch-size', '2', '--cell', 'rnn_tanh',
  ]);
  expect(run.code, run.stderr).toBe(0);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Asserts a failed run: exit code, exactly one stderr line, and the fragments in it. */
function expectFailure(run: { code: number; stderr: string }, code: number, ...fragments: string[]): void {
  expect(run.code, run.stderr).toBe(code);
  expect(run.stderr.trimEnd().split('\n'), run.stderr).toHaveLength(1);
  for (const fragment of fragments) expect(run.stderr).toContain(fragment);
}

describe('scoreForecasts', () => {
  // y = 1 2 4 3 5 6, scored from row 3, horizon 2. Forecasts before row 3 must not count.
  const actual = Float64Array.from([1, 2, 4, 3, 5, 6]);
  const forecast = Float64Array.from([99, 99, 99, 99, 99, 99, 4, 7, 5.5, 99, 99, 99]);
  const one: ScoredSeries = { id: 's', length: 6, actual, forecast, from: 3 };

  it('matches hand-computed MAE, RMSE, sMAPE, MASE, baselines and skill', () => {
    const s = scoreForecasts([one], { horizon: 2, targets: ['y'], scale: [2], season: 2 });
    const y = s.per_target['y']!;
    // Step 1: origins 3 and 4: |4 - 5| = 1 and |5.5 - 6| = 0.5. Step 2: origin 3 only: |7 - 6| = 1.
    expect(s.count).toEqual([2, 1]);
    expect(y.mae).toEqual([0.75, 1]);
    expect(y.rmse[0]).toBeCloseTo(Math.sqrt(0.625), 12);
    expect(y.rmse[1]).toBe(1);
    expect(y.smape[0]).toBeCloseTo((200 / 9 + 100 / 11.5) / 2, 10);
    expect(y.smape[1]).toBeCloseTo(200 / 13, 10);
    // In-sample one-step naive MAE over rows 1..2: (|2 - 1| + |4 - 2|) / 2 = 1.5.
    expect(y.mase[0]).toBeCloseTo(0.5, 12);
    expect(y.mase[1]).toBeCloseTo(1 / 1.5, 12);
    // Persistence: step 1 |3 - 5|, |5 - 6| -> 1.5; step 2 |3 - 6| -> 3.
    expect(y.naive.mae).toEqual([1.5, 3]);
    expect(y.skill[0]).toBeCloseTo(0.5, 12);
    expect(y.skill[1]).toBeCloseTo(2 / 3, 12);
    // Seasonal naive, season 2: step 1 y[2] = 4 vs 5, y[3] = 3 vs 6 -> 2; step 2 y[3] = 3 vs 6 -> 3.
    expect(y.seasonal_naive!.mae).toEqual([2, 3]);
    // Top level: MAE divided by the scale (std 2), unit-free metrics as they are.
    expect(s.mae).toEqual([0.375, 0.5]);
    expect(s.naive.mae).toEqual([0.75, 1.5]);
    expect(s.mase[0]).toBeCloseTo(0.5, 12);
    expect(s.skill[0]).toBeCloseTo(0.5, 12);
    expect(s.seasonal_skill![0]).toBeCloseTo(1 - 0.75 / 2, 12);
  });

  it('averages targets in scaled units, so a target in larger units does not dominate', () => {
    // Target 2 = 10 x target 1, forecasts too: raw errors 10x, std 10x.
    const two: ScoredSeries = {
      id: 's',
      length: 6,
      actual: Float64Array.from([...actual].flatMap((v) => [v, 10 * v])),
      forecast: Float64Array.from([...forecast].flatMap((v) => [v, 10 * v])),
      from: 3,
    };
    // Layout check: row 3, step 1 targets [4, 40], step 2 [7, 70].
    expect(Array.from(two.forecast.subarray(12, 16))).toEqual([4, 40, 7, 70]);
    const s = scoreForecasts([two], { horizon: 2, targets: ['a', 'b'], scale: [1, 10] });
    expect(s.per_target['b']!.mae).toEqual([7.5, 10]);
    expect(s.mae[0]).toBeCloseTo(0.75, 12);
    expect(s.mae[1]).toBeCloseTo(1, 12);
    expect(s.smape[0]).toBeCloseTo(s.per_target['a']!.smape[0]!, 12);
    expect(s.seasonal_naive).toBeUndefined();
  });

  it('reaches back whole seasons when the horizon is longer than the season, never past the origin', () => {
    // Season 1 is persistence at every step: y[t + k - 1 * ceil(k / 1)] = y[t].
    const s = scoreForecasts([one], { horizon: 2, targets: ['y'], scale: [1], season: 1 });
    expect(s.per_target['y']!.seasonal_naive!.mae).toEqual(s.per_target['y']!.naive.mae);
    // Season 2, horizon 3, y = t^2 over 8 rows from row 4: step 3 uses y[t + 3 - 4] = y[t - 1].
    const sq: ScoredSeries = { id: 'sq', length: 8, actual: Float64Array.from({ length: 8 }, (_, t) => t * t), forecast: new Float64Array(8 * 3), from: 4 };
    const s3 = scoreForecasts([sq], { horizon: 3, targets: ['y'], scale: [1], season: 2 });
    // Origins 4 (-> 7): |9 - 49| = 40; step 3 only has origin 4.
    expect(s3.per_target['y']!.seasonal_naive!.mae[2]).toBe(40);
  });

  it('refuses a season longer than the rows before the scored part', () => {
    expect(() => scoreForecasts([one], { horizon: 1, targets: ['y'], scale: [1], season: 4 })).toThrow(/--season 4 is longer than the 3 rows/);
  });
});

describe('streamcell eval', () => {
  it('scores exactly the forecasts predict prints (delta mode adds the last value back the same way)', async () => {
    const model = await loadModel(deltaModel);
    expect(model.manifest.targetMode).toBe('delta');
    const evaluation = await evaluateModel(model, {
      file: csv,
      columns: { features: ['temp', 'hum'], targets: ['temp', 'hum'], timeColumn: 't' },
      scoredTargets: [0, 1],
      from: 0.8,
    });
    const predicted = await cli(['predict', '--model', deltaModel, '--input', csv]);
    expect(predicted.code, predicted.stderr).toBe(0);
    const steps = lines(predicted.stdout).map((l) => l['forecast'] as number[]);
    expect(steps).toHaveLength(ROWS);
    const forecast = evaluation.series[0]!.forecast;
    steps.forEach((f, t) => expect(Array.from(forecast.subarray(t * 6, (t + 1) * 6))).toEqual(f));

    // And the score is of those forecasts: temp's MAE at step 2 recomputed from predict's output.
    const temps = (await readFile(csv, 'utf8')).trim().split('\n').slice(1).map((l) => Number(l.split(',')[1]));
    let sum = 0;
    let n = 0;
    for (let t = 120; t + 2 < ROWS; t++) {
      sum += Math.abs(steps[t]![2]! - temps[t + 2]!);
      n++;
    }
    expect(evaluation.scores.count[1]).toBe(n);
    expect(evaluation.scores.per_target['temp']!.mae[1]).toBeCloseTo(sum / n, 9);
  });

  it('prints per-step arrays for the model and the baselines, and writes the plot', async () => {
    const plot = join(dir, 'plot.html');
    const run = await cli(['eval', '--model', deltaModel, '--data', csv, '--season', '10', '--plot', plot]);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as EvalOutput;
    expect(out['steps']).toEqual([1, 2, 3]);
    expect(out['targets']).toEqual(['temp', 'hum']);
    for (const key of ['mae', 'rmse', 'smape', 'mase', 'skill', 'count']) expect(out[key], key).toHaveLength(3);
    for (const base of [out.naive, out.seasonal_naive]) for (const key of ['mae', 'rmse', 'smape', 'mase']) expect(base[key]).toHaveLength(3);
    expect(Object.keys(out.per_target)).toEqual(['temp', 'hum']);
    expect(out['data']).toMatchObject({ series: 1, rows: ROWS, from: 0.8, scoredFromRow: [120] });
    expect(out['season']).toBe(10);
    const html = await readFile(plot, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('forecast 3 steps ahead');
    expect(html).toContain('scored from here');
  });

  it('--targets scores a subset; --features maps renamed columns', async () => {
    const renamed = join(dir, 'renamed.csv');
    await writeFile(renamed, (await readFile(csv, 'utf8')).replace('t,temp,hum', 't,T,H'));
    const run = await cli(['eval', '--model', deltaModel, '--data', renamed, '--features', 'T,H', '--targets', 'H', '--plot', join(dir, 'p2.html')]);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as EvalOutput;
    expect(out['targets']).toEqual(['H']);
    const full = JSON.parse((await cli(['eval', '--model', deltaModel, '--data', csv, '--plot', join(dir, 'p3.html')])).stdout) as EvalOutput;
    expect(out.per_target['H']).toEqual(full.per_target['hum']);
  });

  it('scores from the train fraction the model was trained with, unless --from says otherwise', async () => {
    const model = join(dir, 'seventy');
    const trained = await cli(['train', '--data', csv, '--features', 'temp,hum', '--out', model, '--hidden', '3', '--window', '8', '--epochs', '1', '--train-fraction', '0.7', '--quiet']);
    expect(trained.code, trained.stderr).toBe(0);
    const byDefault = JSON.parse((await cli(['eval', '--model', model, '--data', csv])).stdout) as EvalOutput;
    expect(byDefault['data']).toMatchObject({ from: 0.7, scoredFromRow: [105] });
    const explicit = JSON.parse((await cli(['eval', '--model', model, '--data', csv, '--from', '0.9'])).stdout) as EvalOutput;
    expect(explicit['data']).toMatchObject({ from: 0.9, scoredFromRow: [135] });
  });

  const errors: [string, string[], number, string][] = [
    ['no model', ['eval', '--data', 'x.csv'], 2, 'missing --model DIR'],
    ['no data', ['eval', '--model', 'DELTA'], 2, 'missing --data FILE.csv'],
    ['from 1', ['eval', '--model', 'DELTA', '--data', 'CSV', '--from', '1'], 2, '--from must be in (0, 1), not 1'],
    ['season 0', ['eval', '--model', 'DELTA', '--data', 'CSV', '--season', '0'], 2, '--season must be >= 1'],
    ['season too long', ['eval', '--model', 'DELTA', '--data', 'CSV', '--season', '500'], 2, '--season 500 is longer than the 120 rows'],
    ['feature count', ['eval', '--model', 'DELTA', '--data', 'CSV', '--features', 'temp'], 2, '--features lists 1 columns; the model has 2 features (temp, hum)'],
    ['unknown target', ['eval', '--model', 'DELTA', '--data', 'CSV', '--targets', 'rain'], 2, '--targets: "rain" is not one of the model\'s targets (temp, hum)'],
    ['missing column', ['eval', '--model', 'DELTA', '--data', 'CSV', '--features', 'temp,rain'], 1, 'no column(s) "rain"'],
    ['plot series', ['eval', '--model', 'DELTA', '--data', 'CSV', '--plot-series', 'x'], 2, '--plot-series: no series "x" (series: series)'],
    ['no model dir', ['eval', '--model', '/nonexistent/model', '--data', 'CSV'], 1, 'no such file'],
  ];
  for (const [what, args, code, fragment] of errors) {
    it(`error: ${what}`, async () => {
      const real = args.map((a) => (a === 'DELTA' ? deltaModel : a === 'CSV' ? csv : a));
      expectFailure(await cli(real), code, 'streamcell eval: ', fragment);
    });
  }
});

describe('the weather demo data, end to end', () => {
  it('trains a few epochs from a fresh state and evaluates on the held-out days', async () => {
    const out = join(dir, 'weather');
    const trained = await cli(['train', '--dataset', 'weather', '--out', out, '--hidden', '8', '--horizon', '2', '--target-mode', 'delta', '--epochs', '3', '--quiet']);
    expect(trained.code, trained.stderr).toBe(0);
    const run = await cli(['eval', '--model', out, '--dataset', 'weather']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as EvalOutput;
    // 1,461 days; floor(1461 * 0.8) = 1168 before the scored part; the demo data set's season is a year.
    expect(result['data']).toMatchObject({ dataset: 'weather', series: 1, rows: 1461, scoredFromRow: [1168] });
    expect(result['season']).toBe(365);
    expect(result['count']).toEqual([292, 291]);
    for (const key of ['mae', 'rmse', 'smape', 'mase', 'skill', 'seasonal_skill']) {
      const values = result[key] as unknown[];
      expect(values, key).toHaveLength(2);
      for (const v of values) expect(Number.isFinite(v), `${key}: ${String(v)}`).toBe(true);
    }
    expect(Object.keys(result.per_target)).toEqual(['temp_max', 'temp_min']);
    const html = await readFile(join(out, 'eval.html'), 'utf8');
    expect(html).toContain('temp_min');
    expect(html).toMatch(/<text[^>]*>201\d-\d\d-\d\d<\/text>/);
  });
});
