import { describe, expect, it } from 'vitest';
import { errorSums, latestScoring, scoreAndShift, scoringLayout } from '../src/scoring.ts';

describe('online scoring history', () => {
  it('matches a brute-force scoring of every forecast against the actual it predicted', () => {
    const H = 3;
    const T = 2;
    const layout = scoringLayout(H, T);
    expect(layout.size).toBe(((H * (H + 1)) / 2) * T + H * T);
    const history = new Float32Array(layout.size);
    const scratch = new Float32Array(layout.size);
    const sums = errorSums(layout);
    const oneStep = new Float64Array(T);
    // Deterministic pseudo-data: actuals a[t], forecasts f[t][k] made at t for t+k+1.
    const n = 40;
    const a = Array.from({ length: n }, (_, t) => [Math.fround(Math.sin(t)), Math.fround(Math.cos(t * 0.7))]);
    const f = Array.from({ length: n }, (_, t) => Array.from({ length: H * T }, (_, j) => Math.fround(Math.sin(t + j * 0.3) * 0.9)));
    const expected = { model: new Float64Array(H * T), naive: new Float64Array(H * T), count: new Float64Array(H * T) };
    let known = 0;
    for (let t = 0; t < n; t++) {
      const r = scoreAndShift(layout, history, known, a[t]!, f[t]!, sums, oneStep, scratch);
      known = r.known;
      expect(r.hasOneStepError).toBe(t > 0);
      if (t > 0) for (let i = 0; i < T; i++) expect(oneStep[i]).toBeCloseTo(a[t]![i]! - f[t - 1]![i]!, 6);
      for (let k = 1; k <= H; k++) {
        if (t - k < 0) continue;
        for (let i = 0; i < T; i++) {
          const idx = (k - 1) * T + i;
          expected.model[idx]! += Math.abs(a[t]![i]! - f[t - k]![(k - 1) * T + i]!);
          expected.naive[idx]! += Math.abs(a[t]![i]! - a[t - k]![i]!);
          expected.count[idx]! += 1;
        }
      }
    }
    for (let idx = 0; idx < H * T; idx++) {
      expect(sums.count[idx]).toBe(expected.count[idx]);
      expect(sums.model[idx]).toBeCloseTo(expected.model[idx]!, 5);
      expect(sums.naive[idx]).toBeCloseTo(expected.naive[idx]!, 5);
    }
    expect(known).toBe(H);
  });
});

describe('latestScoring', () => {
  it('reads back the forecast just shifted in and the actual it came with', () => {
    const layout = scoringLayout(3, 2);
    const history = new Float32Array(layout.size);
    const scratch = new Float32Array(layout.size);
    const sums = errorSums(layout);
    const oneStep = new Float64Array(2);
    expect(latestScoring(layout, history, 0)).toBeUndefined();
    let known = 0;
    for (let t = 0; t < 5; t++) {
      const actual = [10 + t, 20 + t];
      const forecast = [1 + t, 2 + t, 3 + t, 4 + t, 5 + t, 6 + t];
      known = scoreAndShift(layout, history, known, actual, forecast, sums, oneStep, scratch).known;
      const latest = latestScoring(layout, history, known)!;
      expect([...latest.forecast]).toEqual(forecast);
      expect([...latest.actual]).toEqual(actual);
    }
  });

  it('refuses a history of another size', () => {
    expect(latestScoring(scoringLayout(3, 2), new Float32Array(5), 1)).toBeUndefined();
  });
});
