import { describe, expect, it } from 'vitest';
import { createReferenceStepper, createStepper, gateCount, stateSize, validateWeights, WeightsError } from '../src/index.ts';
import type { CellType, RnnWeights } from '../src/index.ts';
import { randomWeights, seededRandom, spec } from './helpers.ts';

describe('stateSize and gateCount', () => {
  it('counts h of every layer, plus c for LSTM only', () => {
    expect(stateSize(spec('lstm', 3, 5, 2, 1))).toBe(20);
    expect(stateSize(spec('gru', 3, 5, 2, 1))).toBe(10);
    expect(stateSize(spec('rnn_tanh', 3, 5, 3, 1))).toBe(15);
    expect(stateSize(spec('rnn_relu', 1, 64, 1, 1))).toBe(64);
  });

  it('knows the gate rows of each cell', () => {
    expect(gateCount('lstm')).toBe(4);
    expect(gateCount('gru')).toBe(3);
    expect(gateCount('rnn_tanh')).toBe(1);
    expect(gateCount('rnn_relu')).toBe(1);
  });

  it('refuses a cell it does not support', () => {
    expect(() => gateCount('peephole_lstm' as CellType)).toThrow(/unsupported cell "peephole_lstm"/);
    expect(() => stateSize(spec('mgu' as CellType, 1, 1, 1, 1))).toThrow(/unsupported cell/);
  });
});

describe('validateWeights', () => {
  const good = (): RnnWeights => randomWeights(spec('lstm', 3, 5, 2, 4), seededRandom(1));

  it('accepts well-formed weights for every cell', () => {
    for (const cell of ['lstm', 'gru', 'rnn_tanh', 'rnn_relu'] as const) {
      expect(() => validateWeights(randomWeights(spec(cell, 2, 3, 3, 2), seededRandom(2)))).not.toThrow();
    }
  });

  const expectTensorError = (w: RnnWeights, tensor: string, message: RegExp): void => {
    let caught: unknown;
    try {
      validateWeights(w);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WeightsError);
    expect((caught as WeightsError).tensor).toBe(tensor);
    expect((caught as WeightsError).message).toMatch(message);
  };

  it('names the PyTorch tensor whose length is wrong', () => {
    const w = good();
    const layers = [w.layers[0]!, { ...w.layers[1]!, weightHh: new Float32Array(4 * 5 * 5 - 1) }];
    expectTensorError({ ...w, layers }, 'rnn.weight_hh_l1', /rnn\.weight_hh_l1: expected 100 floats \[20 x 5\], got 99/);
    // Layer 0 reads inputSize columns, layers above read hiddenSize.
    const wide = [{ ...w.layers[0]!, weightIh: new Float32Array(4 * 5 * 5) }, w.layers[1]!];
    expectTensorError({ ...w, layers: wide }, 'rnn.weight_ih_l0', /expected 60 floats \[20 x 3\], got 100/);
    expectTensorError({ ...w, layers: [w.layers[0]!, { ...w.layers[1]!, biasIh: new Float32Array(5) }] }, 'rnn.bias_ih_l1', /got 5/);
    expectTensorError({ ...w, layers: [{ ...w.layers[0]!, biasHh: new Float32Array(21) }, w.layers[1]!] }, 'rnn.bias_hh_l0', /got 21/);
    expectTensorError({ ...w, headWeight: new Float32Array(4 * 4) }, 'head.weight', /expected 20 floats \[4 x 5\]/);
    expectTensorError({ ...w, headBias: new Float32Array(5) }, 'head.bias', /expected 4 floats/);
  });

  it('refuses non-float32 and non-finite tensors', () => {
    const w = good();
    expectTensorError({ ...w, headBias: [1, 2, 3, 4] as unknown as Float32Array }, 'head.bias', /Float32Array/);
    const nan = Float32Array.from(w.headWeight);
    nan[7] = Number.NaN;
    expectTensorError({ ...w, headWeight: nan }, 'head.weight', /non-finite value NaN at index 7/);
  });

  it('refuses a wrong layer count, bad sizes and unsupported cells', () => {
    const w = good();
    expect(() => validateWeights({ ...w, layers: [w.layers[0]!] })).toThrow(/expected 2 layers/);
    expect(() => validateWeights({ ...w, hiddenSize: 0 })).toThrow(/hiddenSize must be a positive integer/);
    expect(() => validateWeights({ ...w, inputSize: 2.5 })).toThrow(/inputSize/);
    expect(() => validateWeights({ ...w, cell: 'lstm_peephole' as CellType })).toThrow(WeightsError);
  });

  it('is what both steppers run first', () => {
    const w = good();
    const bad = { ...w, headBias: new Float32Array(1) };
    expect(() => createReferenceStepper(bad, 1)).toThrow(/head\.bias/);
    expect(() => createStepper(bad, { maxBatch: 1 })).toThrow(/head\.bias/);
  });
});

describe('step arguments', () => {
  const w = randomWeights(spec('gru', 3, 5, 1, 2), seededRandom(3));
  const S = stateSize(w);
  const steppers = [
    ['reference', createReferenceStepper(w, 4)],
    ['fast', createStepper(w, { maxBatch: 4 })],
  ] as const;

  for (const [name, stepper] of steppers) {
    it(`${name}: throws when the batch exceeds maxBatch`, () => {
      const big = 5;
      expect(() => stepper.step(big, new Float32Array(big * 3), new Float32Array(big * S), new Float32Array(big * 2))).toThrow(
        /batch 5 is outside \[0, 4\]/,
      );
      expect(() => stepper.step(-1, new Float32Array(3), new Float32Array(S), new Float32Array(2))).toThrow(RangeError);
      expect(() => stepper.step(1.5, new Float32Array(6), new Float32Array(2 * S), new Float32Array(4))).toThrow(RangeError);
    });

    it(`${name}: throws when a buffer is too small for the batch`, () => {
      expect(() => stepper.step(2, new Float32Array(5), new Float32Array(2 * S), new Float32Array(4))).toThrow(/x/);
      expect(() => stepper.step(2, new Float32Array(6), new Float32Array(2 * S - 1), new Float32Array(4))).toThrow(/state/);
      expect(() => stepper.step(2, new Float32Array(6), new Float32Array(2 * S), new Float32Array(3))).toThrow(/out/);
    });

    it(`${name}: a batch of zero touches nothing`, () => {
      const state = new Float32Array(S).fill(0.25);
      const out = new Float32Array(2).fill(7);
      stepper.step(0, new Float32Array(0), state, out);
      expect([...state]).toEqual(new Array<number>(S).fill(0.25));
      expect([...out]).toEqual([7, 7]);
    });
  }

  it('leaves rows beyond the batch untouched', () => {
    const fast = createStepper(w, { maxBatch: 4 });
    const state = new Float32Array(4 * S).fill(0.5);
    const out = new Float32Array(4 * 2).fill(9);
    fast.step(3, new Float32Array(4 * 3).fill(1), state, out);
    expect([...state.subarray(3 * S)]).toEqual(new Array<number>(S).fill(0.5));
    expect([...out.subarray(6)]).toEqual([9, 9]);
  });

  it('rejects bad fast stepper options', () => {
    expect(() => createStepper(w, { maxBatch: 0 })).toThrow(/maxBatch/);
    expect(() => createStepper(w, { maxBatch: 2.5 })).toThrow(/maxBatch/);
    expect(() => createReferenceStepper(w, 0)).toThrow(/maxBatch/);
    expect(() => createStepper(w, { maxBatch: 4, rowTile: 0 })).toThrow(/rowTile/);
    expect(() => createStepper(w, { maxBatch: 4, colTile: 9 })).toThrow(/colTile/);
    expect(() => createStepper(w, { maxBatch: 2 ** 30 })).toThrow(/kernel memory/);
  });
});
