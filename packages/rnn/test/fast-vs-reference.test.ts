import { describe, expect, it } from 'vitest';
import { CELL_TYPES, createReferenceStepper, createStepper, relaxedSimdSupported, stateSize } from '../src/index.ts';
import type { CellType, RnnWeights, StepperOptions } from '../src/index.ts';
import { bits, maxAbsError, maxScaledError, randomWeights, seededRandom, spec, uniform } from './helpers.ts';

const HIDDEN_SIZES = [1, 5, 7, 32, 64, 130];
const LAYER_COUNTS = [1, 2, 3];

/**
 * Steps both steppers over the same sequence from the same random initial
 * state and returns the worst error over every out and state value of every
 * step: absolute up to magnitude 1, relative above.
 */
function compare(
  weights: RnnWeights,
  opts: { batch: number; steps: number; seed: number; fast?: Partial<StepperOptions> },
): { scaled: number; abs: number } {
  const { batch, steps } = opts;
  const rand = seededRandom(opts.seed);
  const S = stateSize(weights);
  const ref = createReferenceStepper(weights, batch);
  const fast = createStepper(weights, { maxBatch: batch, ...opts.fast });
  const refState = uniform(rand, batch * S, 0.5);
  const fastState = Float32Array.from(refState);
  const refOut = new Float32Array(batch * weights.outputSize);
  const fastOut = new Float32Array(batch * weights.outputSize);
  let scaled = 0;
  let abs = 0;
  for (let t = 0; t < steps; t++) {
    const x = uniform(rand, batch * weights.inputSize, 2);
    ref.step(batch, x, refState, refOut);
    fast.step(batch, x, fastState, fastOut);
    scaled = Math.max(scaled, maxScaledError(fastOut, refOut), maxScaledError(fastState, refState));
    abs = Math.max(abs, maxAbsError(fastOut, refOut), maxAbsError(fastState, refState));
  }
  return { scaled, abs };
}

describe('fast stepper agrees with the reference', () => {
  // Every cell x layer count x hidden size; input and output sizes cycle
  // through 1..9 and 1..6 so that every input size is covered too.
  let n = 0;
  for (const cell of CELL_TYPES) {
    for (const numLayers of LAYER_COUNTS) {
      for (const hidden of HIDDEN_SIZES) {
        const inputSize = (n % 9) + 1;
        const outputSize = (n % 6) + 1;
        const seed = 100 + n++;
        it(`${cell}, ${numLayers} layer(s), hidden ${hidden}, input ${inputSize}, output ${outputSize}`, () => {
          const w = randomWeights(spec(cell, inputSize, hidden, numLayers, outputSize), seededRandom(seed));
          const { scaled, abs } = compare(w, { batch: 5, steps: 8, seed });
          // |fast − ref| <= 1e-5 absolute, and relative where values exceed 1.
          expect(scaled).toBeLessThanOrEqual(1e-5);
          if (cell !== 'rnn_relu') expect(abs).toBeLessThanOrEqual(1e-5);
        });
      }
    }
  }

  it('covers every input size 1..9 for every cell', () => {
    for (const cell of CELL_TYPES) {
      for (let inputSize = 1; inputSize <= 9; inputSize++) {
        const w = randomWeights(spec(cell, inputSize, 6, 2, 2), seededRandom(inputSize));
        expect(compare(w, { batch: 3, steps: 5, seed: inputSize }).scaled).toBeLessThanOrEqual(1e-5);
      }
    }
  });

  it('agrees when biases push the gates deep into saturation', () => {
    for (const cell of CELL_TYPES) {
      const base = randomWeights(spec(cell, 4, 9, 2, 3), seededRandom(7));
      const rand = seededRandom(8);
      // Pre-activations of ±40 put σ and tanh in their flat tails (and past the
      // kernel's clamps) while keeping the sums themselves well conditioned.
      const w: RnnWeights = { ...base, layers: base.layers.map((l) => ({ ...l, biasIh: uniform(rand, l.biasIh.length, 40) })) };
      expect(compare(w, { batch: 4, steps: 20, seed: 8 }).scaled).toBeLessThanOrEqual(1e-5);
    }
  });

  it('agrees without relaxed SIMD (separate multiply and add)', () => {
    for (const cell of CELL_TYPES) {
      const w = randomWeights(spec(cell, 8, 64, 2, 3), seededRandom(9));
      const { scaled } = compare(w, { batch: 3, steps: 10, seed: 10, fast: { relaxedSimd: false } });
      expect(scaled).toBeLessThanOrEqual(1e-5);
    }
  });

  it('reports whether this engine has relaxed SIMD and whether its multiply-add is fused', () => {
    const w = randomWeights(spec('lstm', 2, 4, 1, 1), seededRandom(11));
    const plain = createStepper(w, { maxBatch: 1, relaxedSimd: false });
    expect(plain.relaxedSimd).toBe(false);
    expect(plain.fusedMultiplyAdd).toBe(false);
    const auto = createStepper(w, { maxBatch: 1 });
    expect(auto.relaxedSimd).toBe(relaxedSimdSupported());
    expect(typeof auto.fusedMultiplyAdd).toBe('boolean');
  });
});

describe('fast stepper results do not depend on how the work is tiled', () => {
  const TILINGS: Partial<StepperOptions>[] = [
    { rowTile: 1, colTile: 1, unroll: 1 },
    { rowTile: 3, colTile: 2, unroll: 3 },
    { rowTile: 4, colTile: 3, unroll: 4 },
    { rowTile: 6, colTile: 2, unroll: 2 },
    { rowTile: 8, colTile: 8, unroll: 8 },
  ];

  for (const cell of ['lstm', 'gru', 'rnn_tanh', 'rnn_relu'] as CellType[]) {
    it(`${cell}: every tile shape gives the same bits as the default`, () => {
      const w = randomWeights(spec(cell, 5, 13, 2, 5), seededRandom(12));
      const S = stateSize(w);
      const batch = 11;
      const rand = seededRandom(13);
      const xs = Array.from({ length: 6 }, () => uniform(rand, batch * 5, 2));
      const state0 = uniform(rand, batch * S, 0.5);
      const run = (opts: Partial<StepperOptions>): { state: Float32Array; outs: Float32Array[] } => {
        const stepper = createStepper(w, { maxBatch: batch, ...opts });
        const state = Float32Array.from(state0);
        const outs = xs.map((x) => {
          const out = new Float32Array(batch * 5);
          stepper.step(batch, x, state, out);
          return out;
        });
        return { state, outs };
      };
      const base = run({});
      for (const tiling of TILINGS) {
        const other = run(tiling);
        expect(bits(other.state), JSON.stringify(tiling)).toEqual(bits(base.state));
        other.outs.forEach((out, t) => expect(bits(out), `${JSON.stringify(tiling)} step ${t}`).toEqual(bits(base.outs[t]!)));
      }
    });
  }
});

describe('fast stepper buffers', () => {
  it('stepping in the kernel buffers gives the same bits as copying caller arrays', () => {
    const w = randomWeights(spec('lstm', 3, 10, 2, 2), seededRandom(14));
    const S = stateSize(w);
    const batch = 7;
    const rand = seededRandom(15);
    const copying = createStepper(w, { maxBatch: batch });
    const inPlace = createStepper(w, { maxBatch: 9 });
    const state = uniform(rand, batch * S, 0.5);
    inPlace.buffers.state.set(state);
    const out = new Float32Array(batch * 2);
    for (let t = 0; t < 5; t++) {
      const x = uniform(rand, batch * 3, 1);
      copying.step(batch, x, state, out);
      inPlace.buffers.x.set(x);
      inPlace.step(batch, inPlace.buffers.x, inPlace.buffers.state, inPlace.buffers.out);
      expect(bits(inPlace.buffers.out.subarray(0, batch * 2))).toEqual(bits(out));
      expect(bits(inPlace.buffers.state.subarray(0, batch * S))).toEqual(bits(state));
    }
    expect(inPlace.buffers.x.length).toBe(9 * 3);
    expect(inPlace.buffers.state.length).toBe(9 * S);
    expect(inPlace.buffers.out.length).toBe(9 * 2);
  });

  it('accepts caller arrays longer than the batch and writes only the batch rows', () => {
    const w = randomWeights(spec('gru', 2, 600, 1, 3), seededRandom(16));
    const S = stateSize(w);
    const fast = createStepper(w, { maxBatch: 4 });
    const ref = createReferenceStepper(w, 4);
    const rand = seededRandom(17);
    const x = uniform(rand, 4 * 2, 1);
    const state = uniform(rand, 4 * S, 0.5);
    const refState = Float32Array.from(state);
    const out = new Float32Array(4 * 3).fill(42);
    const refOut = new Float32Array(4 * 3).fill(42);
    fast.step(2, x, state, out);
    ref.step(2, x, refState, refOut);
    expect(maxScaledError(state, refState)).toBeLessThanOrEqual(1e-5);
    expect(maxScaledError(out, refOut)).toBeLessThanOrEqual(1e-5);
    expect([...out.subarray(6)]).toEqual([42, 42, 42, 42, 42, 42]);
  });
});
