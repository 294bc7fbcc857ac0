import { describe, expect, it } from 'vitest';
import { CELL_TYPES, createReferenceStepper, lossAndGradients, stateSize, toFloat64 } from '../src/index.ts';
import type { CellType, LossKind, RnnWeights, TrainSequence } from '../src/index.ts';
import { randomWeights, seededRandom, spec, uniform } from './helpers.ts';

/**
 * Backward passes checked against central finite differences of the loss,
 * in float64: every parameter of a 2-layer model of each cell, with masked
 * targets, a scoreFrom and sequences of unequal length.
 */

function sequences(seed: number, inputSize: number, outputSize: number): TrainSequence[] {
  const rand = seededRandom(seed);
  return [9, 14].map((length, i) => {
    const targets = uniform(rand, length * outputSize, 1);
    // Some masked entries (NaN = no target).
    for (let k = 0; k < targets.length; k++) if (rand() < 0.2) targets[k] = NaN;
    return { inputs: uniform(rand, length * inputSize, 1.5), targets, length, scoreFrom: i === 0 ? 2 : 0 };
  });
}

/** Largest relative error of the analytic gradient against central differences, over every parameter. */
function worstRelativeError(
  weights: RnnWeights,
  seqs: TrainSequence[],
  loss: LossKind,
  huberDelta: number,
  corrupt?: (g: Float64Array) => void,
): { worst: number; where: number } {
  const w = toFloat64(weights);
  const analytic = lossAndGradients(w, seqs, { loss, huberDelta }).gradients!.flat;
  corrupt?.(analytic);
  const eps = 1e-6;
  let worst = 0;
  let where = -1;
  for (let i = 0; i < w.flat.length; i++) {
    const old = w.flat[i]!;
    w.flat[i] = old + eps;
    const plus = lossAndGradients(w, seqs, { loss, huberDelta, gradients: false }).loss;
    w.flat[i] = old - eps;
    const minus = lossAndGradients(w, seqs, { loss, huberDelta, gradients: false }).loss;
    w.flat[i] = old;
    const numeric = (plus - minus) / (2 * eps);
    const a = analytic[i]!;
    // Relative error, with a floor so that gradients that are zero up to rounding compare absolutely.
    const err = Math.abs(a - numeric) / Math.max(Math.abs(a), Math.abs(numeric), 1e-4);
    if (!(err <= worst)) {
      worst = Number.isNaN(err) ? Infinity : err;
      where = i;
    }
  }
  return { worst, where };
}

describe('gradients agree with finite differences (float64, relative error <= 1e-4)', () => {
  for (const cell of CELL_TYPES) {
    it(`${cell}, 2 layers, MSE`, () => {
      const weights = randomWeights(spec(cell, 3, 5, 2, 4), seededRandom(cell.length), 1.5);
      const { worst, where } = worstRelativeError(weights, sequences(11, 3, 4), 'mse', 1);
      expect(worst, `worst at parameter ${where}`).toBeLessThanOrEqual(1e-4);
    });
  }

  for (const cell of CELL_TYPES) {
    it(`${cell}, 2 layers, sizes that take the WebAssembly products (multiples of 8, two lanes)`, () => {
      const weights = randomWeights(spec(cell, 8, 8, 2, 8), seededRandom(20 + cell.length), 1.5);
      const { worst, where } = worstRelativeError(weights, sequences(13, 8, 8), 'mse', 1);
      expect(worst, `worst at parameter ${where}`).toBeLessThanOrEqual(1e-4);
    });
  }

  const other: [CellType, LossKind][] = [
    ['lstm', 'mae'],
    ['gru', 'huber'],
    ['rnn_tanh', 'huber'],
  ];
  for (const [cell, loss] of other) {
    it(`${cell}, 2 layers, ${loss}`, () => {
      const weights = randomWeights(spec(cell, 2, 4, 2, 3), seededRandom(40 + cell.length), 1.5);
      // delta 0.3 puts entries on both sides of Huber's kink.
      const { worst, where } = worstRelativeError(weights, sequences(12, 2, 3), loss, 0.3);
      expect(worst, `worst at parameter ${where}`).toBeLessThanOrEqual(1e-4);
    });
  }

  it('flags a gradient that is off by 0.1% in one parameter (the check can fail)', () => {
    const weights = randomWeights(spec('gru', 3, 5, 2, 4), seededRandom(1), 1.5);
    const seqs = sequences(11, 3, 4);
    const { worst, where } = worstRelativeError(weights, seqs, 'mse', 1, (g) => {
      // The largest gradient, so the floor of the relative error cannot hide it.
      let at = 0;
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[at]!)) at = i;
      g[at] = g[at]! * 1.001;
    });
    expect(worst).toBeGreaterThan(1e-4);
    expect(where).toBeGreaterThanOrEqual(0);
  });
});

describe('the loss is the mean over scored entries only', () => {
  for (const loss of ['mse', 'mae', 'huber'] as const) {
    it(`${loss}: NaN targets and rows before scoreFrom add nothing`, () => {
      const weights = randomWeights(spec('lstm', 2, 4, 2, 3), seededRandom(5));
      const seqs = sequences(21, 2, 3);
      // The same loss computed independently: step the reference stepper, score by hand.
      const stepper = createReferenceStepper(weights, 1);
      let sum = 0;
      let count = 0;
      for (const s of seqs) {
        const state = new Float64Array(stateSize(weights));
        const out = new Float64Array(3);
        for (let t = 0; t < s.length; t++) {
          stepper.step(1, Float64Array.from(s.inputs.subarray(t * 2, t * 2 + 2)), state, out);
          if (t < (s.scoreFrom ?? 0)) continue;
          for (let o = 0; o < 3; o++) {
            const y = s.targets[t * 3 + o]!;
            if (Number.isNaN(y)) continue;
            const d = Math.abs(out[o]! - y);
            sum += loss === 'mse' ? d * d : loss === 'mae' ? d : d <= 0.5 ? 0.5 * d * d : 0.5 * (d - 0.25);
            count++;
          }
        }
      }
      const result = lossAndGradients(weights, seqs, { loss, huberDelta: 0.5 });
      expect(result.count).toBe(count);
      expect(result.loss).toBeCloseTo(sum / count, 12);
      // Masked entries get no gradient: replacing their NaN by any number changes the loss only if counted.
      const filled = seqs.map((s) => ({ ...s, targets: s.targets.map((v) => (Number.isNaN(v) ? 123 : v)) }));
      expect(lossAndGradients(weights, filled, { loss, huberDelta: 0.5 }).loss).not.toBeCloseTo(result.loss, 3);
    });
  }

  it('a sequence whose targets are all masked changes neither loss nor gradients', () => {
    const weights = randomWeights(spec('gru', 2, 4, 1, 3), seededRandom(6));
    const seqs = sequences(22, 2, 3);
    const masked: TrainSequence = { inputs: uniform(seededRandom(1), 20, 1), targets: new Float32Array(30).fill(NaN), length: 10 };
    const a = lossAndGradients(weights, seqs);
    const b = lossAndGradients(weights, [...seqs, masked]);
    expect(b.loss).toBe(a.loss);
    expect(b.gradients!.flat).toEqual(a.gradients!.flat);
  });
});
