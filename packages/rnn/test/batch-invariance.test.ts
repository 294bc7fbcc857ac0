import { describe, expect, it } from 'vitest';
import { createStepper, stateSize } from '../src/index.ts';
import type { CellType, RnnWeights, StepperOptions } from '../src/index.ts';
import { bits, randomWeights, seededRandom, spec, uniform } from './helpers.ts';

/**
 * A stream's outputs and state must be bitwise identical whether it is
 * stepped alone or inside a batch, at any row: crash replay recomputes
 * forecasts in whatever batch the replay happens to form.
 */

const STREAMS = 300;
const STEPS = 3;

interface Streams {
  readonly xs: Float32Array[]; // per step, [STREAMS x inputSize]
  readonly state0: Float32Array; // [STREAMS x S]
}

function makeStreams(w: RnnWeights, seed: number): Streams {
  const rand = seededRandom(seed);
  return {
    xs: Array.from({ length: STEPS }, () => uniform(rand, STREAMS * w.inputSize, 2)),
    state0: uniform(rand, STREAMS * stateSize(w), 0.8),
  };
}

/** Every stream stepped on its own (batch of one), the yardstick. */
function alone(w: RnnWeights, streams: Streams, opts: Partial<StepperOptions>): { outs: Float32Array[]; state: Float32Array } {
  const { inputSize: I, outputSize: O } = w;
  const S = stateSize(w);
  const stepper = createStepper(w, { maxBatch: 1, ...opts });
  const state = Float32Array.from(streams.state0);
  const outs = streams.xs.map((x) => {
    const out = new Float32Array(STREAMS * O);
    for (let s = 0; s < STREAMS; s++) {
      const rowState = state.slice(s * S, (s + 1) * S);
      const rowOut = new Float32Array(O);
      stepper.step(1, x.slice(s * I, (s + 1) * I), rowState, rowOut);
      state.set(rowState, s * S);
      out.set(rowOut, s * O);
    }
    return out;
  });
  return { outs, state };
}

/**
 * The same streams stepped in batches of `batchSize`, the streams shuffled
 * into new rows at every step (the last batch of each step is the remainder,
 * so partial tiles are exercised too).
 */
function batched(
  w: RnnWeights,
  streams: Streams,
  batchSize: number,
  seed: number,
  opts: Partial<StepperOptions>,
): { outs: Float32Array[]; state: Float32Array } {
  const { inputSize: I, outputSize: O } = w;
  const S = stateSize(w);
  const rand = seededRandom(seed);
  const stepper = createStepper(w, { maxBatch: batchSize, ...opts });
  const state = Float32Array.from(streams.state0);
  const x = new Float32Array(batchSize * I);
  const bState = new Float32Array(batchSize * S);
  const bOut = new Float32Array(batchSize * O);
  const outs = streams.xs.map((xs) => {
    const out = new Float32Array(STREAMS * O);
    const order = Array.from({ length: STREAMS }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let start = 0; start < STREAMS; start += batchSize) {
      const rows = order.slice(start, start + batchSize);
      rows.forEach((s, r) => {
        x.set(xs.subarray(s * I, (s + 1) * I), r * I);
        bState.set(state.subarray(s * S, (s + 1) * S), r * S);
      });
      stepper.step(rows.length, x, bState, bOut);
      rows.forEach((s, r) => {
        state.set(bState.subarray(r * S, (r + 1) * S), s * S);
        out.set(bOut.subarray(r * O, (r + 1) * O), s * O);
      });
    }
    return out;
  });
  return { outs, state };
}

const CASES: { cell: CellType; input: number; hidden: number; layers: number; output: number }[] = [
  { cell: 'lstm', input: 8, hidden: 64, layers: 1, output: 2 },
  { cell: 'lstm', input: 3, hidden: 7, layers: 2, output: 3 },
  { cell: 'gru', input: 8, hidden: 64, layers: 1, output: 1 },
  { cell: 'gru', input: 5, hidden: 13, layers: 3, output: 5 },
  { cell: 'rnn_tanh', input: 2, hidden: 9, layers: 2, output: 2 },
  { cell: 'rnn_relu', input: 4, hidden: 6, layers: 2, output: 4 },
];

describe('a stream gives the same bits alone or in any batch, at any row', () => {
  for (const c of CASES) {
    for (const relaxedSimd of [undefined, false]) {
      const label = `${c.cell} ${c.layers}x${c.hidden}, input ${c.input}, output ${c.output}${relaxedSimd === false ? ', mul+add' : ''}`;
      it(label, () => {
        const w = randomWeights(spec(c.cell, c.input, c.hidden, c.layers, c.output), seededRandom(c.hidden * 31 + c.layers));
        const opts: Partial<StepperOptions> = relaxedSimd === undefined ? {} : { relaxedSimd };
        const streams = makeStreams(w, 5);
        const solo = alone(w, streams, opts);
        for (const batchSize of [1, 3, 64, 257]) {
          const got = batched(w, streams, batchSize, batchSize, opts);
          got.outs.forEach((out, t) => expect(bits(out), `batch ${batchSize}, step ${t}`).toEqual(bits(solo.outs[t]!)));
          expect(bits(got.state), `batch ${batchSize} state`).toEqual(bits(solo.state));
        }
      });
    }
  }

  it('holds with other tile shapes too (odd row tiles leave partial tiles of several sizes)', () => {
    const w = randomWeights(spec('lstm', 6, 11, 2, 3), seededRandom(99));
    const streams = makeStreams(w, 6);
    const solo = alone(w, streams, {});
    for (const tiling of [
      { rowTile: 3, colTile: 4 },
      { rowTile: 5, colTile: 2, unroll: 3 },
    ]) {
      for (const batchSize of [2, 7, 64, 257]) {
        const got = batched(w, streams, batchSize, batchSize + 1, tiling);
        got.outs.forEach((out, t) => expect(bits(out), `${JSON.stringify(tiling)} batch ${batchSize} step ${t}`).toEqual(bits(solo.outs[t]!)));
        expect(bits(got.state)).toEqual(bits(solo.state));
      }
    }
  });
});
