import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSeriesCsv } from '@streamcell/datasets';
import type { Series, SeriesSet } from '@streamcell/datasets';
import { buildSequences, fitScaler, headTargets, servingScaler, splitSeries } from '../src/train/prepare.ts';
import { tempDir } from './helpers.ts';

let dir: string;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A series whose row t holds [t, 1000 + 2t]: every value says which row it came from. */
function series(id: string, length: number, offset = 0): Series {
  const values = new Float64Array(length * 2);
  for (let t = 0; t < length; t++) {
    values[t * 2] = t + offset;
    values[t * 2 + 1] = 1000 + 2 * t + offset;
  }
  return { id, length, values, times: null, lines: Uint32Array.from({ length }, (_, t) => t + 2) };
}

function seriesSet(list: Series[], targets = ['a', 'b']): SeriesSet {
  const features = ['a', 'b'];
  return { file: 'mem.csv', features, targets, targetIndex: targets.map((t) => features.indexOf(t)), series: list };
}

describe('splitSeries', () => {
  it('cuts each series by time: training rows, then validation rows, then the held-out rest', () => {
    const splits = splitSeries([series('x', 100), series('y', 51)], { trainFraction: 0.8, validationFraction: 0.25, window: 8, horizon: 2 });
    expect(splits).toEqual([
      { id: 'x', length: 100, trainEnd: 60, heldOutStart: 80 },
      // floor(51 * 0.8) = 40 before the held-out part; floor(40 * 0.25) = 10 of them validate.
      { id: 'y', length: 51, trainEnd: 30, heldOutStart: 40 },
    ]);
  });

  it('without validation, trains on the whole training part', () => {
    expect(splitSeries([series('x', 100)], { trainFraction: 0.5, validationFraction: 0, window: 8, horizon: 2 })).toEqual([
      { id: 'x', length: 100, trainEnd: 50, heldOutStart: 50 },
    ]);
  });

  it('refuses a series with fewer training rows than window + horizon, naming it and the counts', () => {
    const run = () => splitSeries([series('long', 400), series('short', 40)], { trainFraction: 0.8, validationFraction: 0.1, window: 32, horizon: 3 });
    expect(run).toThrow(/series "short" is too short: of its 40 rows, 29 are left for training .* --window \+ --horizon = 32 \+ 3 = 35/);
    try {
      run();
    } catch (err) {
      expect((err as { code?: string }).code).toBe('input_invalid');
    }
  });

  it('refuses a validation part with no room for a single target', () => {
    expect(() => splitSeries([series('x', 100)], { trainFraction: 0.8, validationFraction: 0.03, window: 8, horizon: 3 })).toThrow(
      /validation part has 2 rows .* no more than --horizon 3/,
    );
  });
});

describe('fitScaler', () => {
  it('uses the training rows only: never the validation or held-out rows', () => {
    // Two series; the held-out and validation rows would move the mean a lot.
    const set = seriesSet([series('x', 100), series('y', 50, 500)]);
    const splits = splitSeries(set.series, { trainFraction: 0.8, validationFraction: 0.25, window: 4, horizon: 1 });
    const scaler = fitScaler(set, splits);
    // Training rows: x rows 0..59 (a = t) and y rows 0..29 (a = 500 + t).
    const a = [...Array.from({ length: 60 }, (_, t) => t), ...Array.from({ length: 30 }, (_, t) => 500 + t)];
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const std = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / (a.length - 1));
    expect(scaler.mean[0]).toBeCloseTo(mean, 10);
    expect(scaler.std[0]).toBeCloseTo(std, 10);
    const b = [...Array.from({ length: 60 }, (_, t) => 1000 + 2 * t), ...Array.from({ length: 30 }, (_, t) => 1500 + 2 * t)];
    expect(scaler.mean[1]).toBeCloseTo(b.reduce((s, v) => s + v, 0) / b.length, 10);
  });

  it('refuses a feature that is constant over the training rows', () => {
    const s = series('x', 100);
    for (let t = 0; t < 80; t++) s.values[t * 2 + 1] = 7;
    const set = seriesSet([s]);
    const splits = splitSeries(set.series, { trainFraction: 0.8, validationFraction: 0, window: 4, horizon: 1 });
    expect(() => fitScaler(set, splits)).toThrow(/feature "b" is constant \(7\) over the 80 training rows/);
  });
});

describe('headTargets', () => {
  // Scaled rows [t, 10t] for t = 0..5; targets: feature 1 only.
  const scaled = Float32Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? i / 2 : (10 * (i - 1)) / 2));

  it('level: the future scaled values, step by step, NaN from the limit on', () => {
    const y = headTargets(scaled, 2, [1], 2, 'level', 6, 4);
    expect(Array.from(y)).toEqual([10, 20, 20, 30, 30, NaN, NaN, NaN, NaN, NaN, NaN, NaN]);
  });

  it('delta: the change from the last observed value', () => {
    const y = headTargets(scaled, 2, [1, 0], 2, 'delta', 3, 6);
    // Row t: [b(t+1)-b(t), a(t+1)-a(t), b(t+2)-b(t), a(t+2)-a(t)].
    expect(Array.from(y)).toEqual([10, 1, 20, 2, 10, 1, 20, 2, 10, 1, 20, 2]);
  });
});

describe('buildSequences', () => {
  for (const mode of ['level', 'delta'] as const) {
    it(`${mode}: no target of a training row reaches validation, none of a validation row the held-out part`, () => {
      const set = seriesSet([series('x', 120), series('y', 90, 300)], ['b']);
      const horizon = 3;
      const splits = splitSeries(set.series, { trainFraction: 0.75, validationFraction: 0.2, window: 8, horizon });
      const scaler = fitScaler(set, splits);
      const fs = servingScaler(set, scaler, horizon, mode);
      const { train, validation } = buildSequences(set, splits, fs, horizon, mode);
      expect(train).toHaveLength(2);
      expect(validation).toHaveLength(2);
      const { mean, std } = scaler;
      const bAt = (s: Series, t: number): number => Math.fround((s.values[t * 2 + 1]! - mean[1]!) / std[1]!);
      set.series.forEach((s, i) => {
        const split = splits[i]!;
        const tr = train[i]!;
        const va = validation[i]!;
        expect(tr.length).toBe(split.trainEnd);
        expect(tr.scoreFrom ?? 0).toBe(0);
        expect(va.length).toBe(split.heldOutStart);
        expect(va.scoreFrom).toBe(split.trainEnd);
        for (const [seq, limit] of [
          [tr, split.trainEnd],
          [va, split.heldOutStart],
        ] as const) {
          let scored = 0;
          for (let t = 0; t < seq.length; t++) {
            for (let k = 1; k <= horizon; k++) {
              const v = seq.targets[t * horizon + (k - 1)]!;
              if (t + k >= limit) {
                expect(v, `row ${t} step ${k}`).toBeNaN();
                continue;
              }
              const want = mode === 'level' ? bAt(s, t + k) : Math.fround(bAt(s, t + k) - bAt(s, t));
              expect(v).toBe(want);
              scored++;
            }
          }
          expect(scored).toBe(horizon * limit - (horizon * (horizon + 1)) / 2);
          // Inputs: the scaled rows themselves, never a row past the cut.
          expect(seq.inputs.length).toBe(limit * 2);
          expect(seq.inputs[(limit - 1) * 2 + 1]).toBe(bAt(s, limit - 1));
        }
      });
    });
  }

  it('without a validation part, gives no validation sequences', async () => {
    const file = join(dir, 'one.csv');
    await writeFile(file, `a,b\n${Array.from({ length: 40 }, (_, t) => `${t},${Math.sin(t)}`).join('\n')}\n`);
    const set = await readSeriesCsv(file, { features: ['a', 'b'], targets: ['b'] });
    const splits = splitSeries(set.series, { trainFraction: 0.8, validationFraction: 0, window: 4, horizon: 1 });
    const scaler = fitScaler(set, splits);
    const out = buildSequences(set, splits, servingScaler(set, scaler, 1, 'level'), 1, 'level');
    expect(out.train).toHaveLength(1);
    expect(out.validation).toHaveLength(0);
  });
});
