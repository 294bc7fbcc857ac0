import { describe, expect, it } from 'vitest';
import { isStreamcellError } from '@streamcell/protocol';
import { createScaler, parseManifest } from '../src/index.ts';
import { manifestFor } from './helpers.ts';

const base = {
  inputSize: 3,
  features: ['a', 'b', 'c'],
  targets: ['c', 'a'], // out of feature order on purpose
  horizon: 2,
  outputSize: 4,
  scaler: { mean: [1, 2, 3], std: [2, 4, 8] },
};

describe('createScaler', () => {
  it('standardises inputs with the feature statistics', () => {
    const scaler = createScaler(parseManifest(manifestFor(base)));
    const x = new Float32Array(5);
    scaler.scaleRow([3, 6, 11], x, 2);
    expect(Array.from(x)).toEqual([0, 0, 1, 1, 1]);
    scaler.scaleRow([0.1, 2, 3], x);
    expect(x[0]).toBe(Math.fround((0.1 - 1) / 2));
  });

  it('maps level outputs back with each target feature’s mean and std, step by step', () => {
    const scaler = createScaler(parseManifest(manifestFor(base)));
    const head = Float32Array.of(9, 9, 0.5, -1, 0.25, 2); // offset 2
    const out = new Float32Array(4);
    scaler.toForecast(head, 2, new Float32Array(3), 0, out);
    expect(Array.from(out)).toEqual([0.5 * 8 + 3, -1 * 2 + 1, 0.25 * 8 + 3, 2 * 2 + 1]);
  });

  it('adds the last scaled target value in delta mode before unscaling', () => {
    const scaler = createScaler(parseManifest(manifestFor({ ...base, targetMode: 'delta' })));
    const x = new Float32Array(3);
    scaler.scaleRow([5, 0, 7], x); // scaled: a = 2, c = 0.5
    const out = new Float32Array(4);
    scaler.toForecast(Float32Array.of(0.5, -1, 0.25, 2), 0, x, 0, out);
    expect(Array.from(out)).toEqual([(0.5 + 0.5) * 8 + 3, (-1 + 2) * 2 + 1, (0.25 + 0.5) * 8 + 3, (2 + 2) * 2 + 1]);
  });

  it('is the identity without a scaler (delta then adds the raw last value)', () => {
    const level = createScaler(parseManifest(manifestFor({ ...base, scaler: null })));
    const x = new Float32Array(3);
    level.scaleRow([0.1, -2, 3], x);
    expect(Array.from(x)).toEqual([Math.fround(0.1), -2, 3]);
    const head = Float32Array.of(0.1, 0.2, 0.3, 0.4);
    const out = new Float32Array(4);
    level.toForecast(head, 0, x, 0, out);
    expect(out).toEqual(head);
    const delta = createScaler(parseManifest(manifestFor({ ...base, scaler: null, targetMode: 'delta' })));
    delta.toForecast(Float32Array.of(1, 1, 1, 1), 0, x, 0, out);
    expect(Array.from(out)).toEqual([4, Math.fround(1 + Math.fround(0.1)), 4, Math.fround(1 + Math.fround(0.1))]);
  });

  it('refuses values that are not finite, or overflow float32, naming the feature', () => {
    const scaler = createScaler(parseManifest(manifestFor({ ...base, scaler: null })));
    const x = new Float32Array(3);
    for (const bad of [[NaN, 0, 0], [0, Infinity, 0], [0, 0, 1e39]]) {
      let caught: unknown;
      try {
        scaler.scaleRow(bad, x);
      } catch (err) {
        caught = err;
      }
      expect(isStreamcellError(caught, 'non_finite')).toBe(true);
      expect((caught as Error).message).toContain(`"${base.features[bad.findIndex((v) => v !== 0)]}"`);
    }
  });

  it('refuses a row of the wrong width', () => {
    const scaler = createScaler(parseManifest(manifestFor(base)));
    expect(() => scaler.scaleRow([1, 2], new Float32Array(3))).toThrow(/expected 3 values, got 2/);
  });
});
