import { describe, expect, it } from 'vitest';
import { createEngine } from '../src/engine.ts';
import { CELL_TYPES, createReferenceStepper, createStepper, makeLanes, stateSize, toFloat64 } from '../src/index.ts';
import type { CellType, Lane, RnnWeights, TrainSequence } from '../src/index.ts';
import { maxScaledError, randomWeights, seededRandom, spec, uniform } from './helpers.ts';

/**
 * The trainer's taped forward pass (src/engine.ts, many lanes at once, window
 * by window with the state carried across the cuts) computes what the served
 * steppers compute: the float64 reference exactly, the WebAssembly kernel
 * within 1e-5.
 */

function randomSequences(rand: () => number, lengths: readonly number[], inputSize: number, outputSize: number): TrainSequence[] {
  return lengths.map((length) => ({
    inputs: uniform(rand, length * inputSize, 2),
    targets: uniform(rand, length * outputSize, 1),
    length,
  }));
}

/**
 * Runs the engine over `lanes` window by window and returns, per lane, the
 * forecasts of every row and the state after its last row (in the stepper's
 * state layout: h of every layer, then c of every layer).
 */
function engineRun(weights: RnnWeights, sequences: readonly TrainSequence[], lanes: readonly Lane[], window: number): { out: Float64Array[]; state: Float64Array[] } {
  const { hiddenSize: H, numLayers: L, outputSize: O } = weights;
  const engine = createEngine(weights, lanes.length, window);
  // The engine may step one padding lane more than asked for.
  const B = engine.lanes;
  engine.params.flat.set(toFloat64(weights).flat);
  engine.resetState();
  const out = lanes.map((l) => new Float64Array(l.length * O));
  const state = lanes.map(() => new Float64Array(stateSize(weights)));
  const longest = Math.max(...lanes.map((l) => l.length));
  for (let from = 0; from < longest; from += window) {
    const steps = Math.min(window, longest - from);
    engine.load(sequences, lanes, from, steps);
    engine.forward(steps);
    lanes.forEach((lane, b) => {
      for (let t = 0; t < steps && from + t < lane.length; t++) {
        out[b]!.set(engine.out.subarray((t * B + b) * O, (t * B + b + 1) * O), (from + t) * O);
      }
      if (lane.length > from && lane.length <= from + steps) {
        const slot = lane.length - from;
        for (let l = 0; l < L; l++) {
          state[b]!.set(engine.h[l]!.subarray((slot * B + b) * H, (slot * B + b + 1) * H), l * H);
          if (weights.cell === 'lstm') state[b]!.set(engine.c[l]!.subarray((slot * B + b) * H, (slot * B + b + 1) * H), (L + l) * H);
        }
      }
    });
    engine.carry(steps);
  }
  return { out, state };
}

/** Steps one lane's rows with a stepper from a zero state; returns every forecast and the final state. */
function stepLane(
  stepper: { step(batch: number, x: Float64Array | Float32Array, state: Float64Array | Float32Array, out: Float64Array | Float32Array): void },
  float64: boolean,
  weights: RnnWeights,
  s: TrainSequence,
  lane: Lane,
): { out: Float64Array; state: Float64Array } {
  const { inputSize: I, outputSize: O } = weights;
  const Arr = float64 ? Float64Array : Float32Array;
  const state = new Arr(stateSize(weights));
  const o = new Arr(O);
  const out = new Float64Array(lane.length * O);
  for (let t = 0; t < lane.length; t++) {
    const row = lane.start + t;
    stepper.step(1, Arr.from(s.inputs.subarray(row * I, (row + 1) * I)), state, o);
    out.set(o, t * O);
  }
  return { out, state: Float64Array.from(state) };
}

/** Sizes that leave most products to plain JavaScript (rows and columns not multiples of 8). */
const SMALL = { input: 3, hidden: 6, output: 4 };
/** Sizes whose products all take the WebAssembly kernels (even lane counts, rows and columns multiples of 8). */
const TILED = { input: 8, hidden: 8, output: 8 };

function check(
  cell: CellType,
  numLayers: number,
  lengths: number[],
  batchSize: number,
  window: number,
  seed: number,
  sizes: { input: number; hidden: number; output: number } = SMALL,
): void {
  const weights = randomWeights(spec(cell, sizes.input, sizes.hidden, numLayers, sizes.output), seededRandom(seed), 1.5);
  const sequences = randomSequences(seededRandom(seed + 1), lengths, sizes.input, sizes.output);
  const lanes = makeLanes(sequences, batchSize);
  const ours = engineRun(weights, sequences, lanes, window);
  const reference = createReferenceStepper(weights, 1);
  const fast = createStepper(weights, { maxBatch: 1 });
  lanes.forEach((lane, b) => {
    const s = sequences[lane.sequence]!;
    const ref = stepLane(reference, true, weights, s, lane);
    // Exactly: same equations (src/cells.ts), same order of every sum, float64.
    expect(ours.out[b], `lane ${b} forecasts`).toEqual(ref.out);
    expect(ours.state[b], `lane ${b} state after its last row`).toEqual(ref.state);
    const served = stepLane(fast, false, weights, s, lane);
    expect(maxScaledError(ours.out[b]!, served.out), `lane ${b} vs the fast kernel`).toBeLessThanOrEqual(1e-5);
    expect(maxScaledError(ours.state[b]!, served.state), `lane ${b} state vs the fast kernel`).toBeLessThanOrEqual(1e-5);
  });
}

describe("the trainer's forward pass is the served forward pass", () => {
  for (const cell of CELL_TYPES) {
    for (const layers of [1, 2, 3]) {
      it(`${cell}, ${layers} layer(s): every forecast and the carried state over TBPTT windows`, () => {
        // Lanes of unequal length (one ends mid-window), windows that do not divide them.
        check(cell, layers, [23, 17, 30], 3, 7, 10 * layers + cell.length);
      });
    }
    it(`${cell}, 2 layers: lanes cut from sequences by makeLanes (chunks start mid-sequence from a zero state)`, () => {
      check(cell, 2, [41, 64, 9], 9, 5, 77 + cell.length);
    });
    it(`${cell}, 2 layers, sizes that take the WebAssembly products: the same bits`, () => {
      check(cell, 2, [23, 17, 30, 12], 4, 7, 50 + cell.length, TILED);
      check(cell, 3, [40, 33], 6, 16, 60 + cell.length, TILED);
    });
  }
});

describe('makeLanes', () => {
  const seq = (length: number): TrainSequence => ({ inputs: new Float32Array(length), targets: new Float32Array(length), length });

  it('gives each sequence lanes in proportion to its length, cut into near-equal contiguous chunks', () => {
    // N = 405: 8·100/405 = 1.98 -> 2 lanes, 8·300/405 = 5.93 -> 6, 8·5/405 = 0.1 -> at least 1.
    expect(makeLanes([seq(100), seq(300), seq(5)], 8)).toEqual([
      { sequence: 0, start: 0, length: 50 },
      { sequence: 0, start: 50, length: 50 },
      ...[0, 1, 2, 3, 4, 5].map((c) => ({ sequence: 1, start: 50 * c, length: 50 })),
      { sequence: 2, start: 0, length: 5 },
    ]);
  });

  it('puts the extra rows in the first chunks and never makes more lanes than rows', () => {
    expect(makeLanes([seq(11)], 3).map((l) => l.length)).toEqual([4, 4, 3]);
    expect(makeLanes([seq(4)], 32)).toHaveLength(4);
    expect(makeLanes([seq(0), seq(6)], 2)).toEqual([
      { sequence: 1, start: 0, length: 3 },
      { sequence: 1, start: 3, length: 3 },
    ]);
  });

  it('covers every row exactly once', () => {
    const sequences = [seq(97), seq(13), seq(250)];
    const lanes = makeLanes(sequences, 32);
    sequences.forEach((s, i) => {
      const mine = lanes.filter((l) => l.sequence === i);
      let next = 0;
      for (const l of mine) {
        expect(l.start).toBe(next);
        next += l.length;
      }
      expect(next).toBe(s.length);
    });
    expect(Math.abs(lanes.length - 32)).toBeLessThanOrEqual(3);
  });

  it('rejects a batch size that is not a positive integer', () => {
    expect(() => makeLanes([seq(5)], 0)).toThrow(/batchSize must be a positive integer/);
    expect(() => makeLanes([seq(5)], 2.5)).toThrow(/batchSize/);
  });
});
