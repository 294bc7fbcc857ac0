import { describe, expect, it } from 'vitest';
import { createReferenceStepper, createStepper, stateSize } from '../src/index.ts';
import type { CellType } from '../src/index.ts';
import { randomWeights, seededRandom, spec, uniform } from './helpers.ts';

/**
 * Long sequences: float32 rounding must not accumulate. The fast stepper
 * (float32 throughout) is compared with the reference run in float64, where
 * only the weights are float32, at every one of 2,000 steps.
 */
const STEPS = 2000;
const BATCH = 4;

describe('the fast stepper does not drift from a float64 reference over long sequences', () => {
  for (const [cell, layers] of [
    ['lstm', 1],
    ['lstm', 2],
    ['gru', 1],
    ['gru', 2],
    ['rnn_tanh', 1],
    ['rnn_relu', 1],
  ] as [CellType, number][]) {
    it(`${cell}, ${layers} layer(s), hidden 64, input 8, ${STEPS} steps`, () => {
      const w = randomWeights(spec(cell, 8, 64, layers, 3), seededRandom(layers * 10 + cell.length));
      const S = stateSize(w);
      const rand = seededRandom(42);
      const fast = createStepper(w, { maxBatch: BATCH });
      const ref64 = createReferenceStepper(w, BATCH);
      const state32 = new Float32Array(BATCH * S);
      const state64 = new Float64Array(BATCH * S);
      const out32 = new Float32Array(BATCH * 3);
      const out64 = new Float64Array(BATCH * 3);
      let worst = 0;
      let worstStep = -1;
      for (let t = 0; t < STEPS; t++) {
        const x = uniform(rand, BATCH * 8, 2);
        fast.step(BATCH, x, state32, out32);
        ref64.step(BATCH, Float64Array.from(x), state64, out64);
        for (const [a, b] of [
          [out32, out64],
          [state32, state64],
        ] as const) {
          for (let i = 0; i < a.length; i++) {
            const err = Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!));
            if (!(err <= worst)) {
              worst = Number.isNaN(err) ? Infinity : err;
              worstStep = t;
            }
          }
        }
      }
      expect(worst, `worst error at step ${worstStep}`).toBeLessThanOrEqual(1e-5);
    });
  }
});
