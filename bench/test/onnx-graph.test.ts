import { describe, expect, it } from 'vitest';
import { createReferenceStepper, stateSize } from '@streamcell/rnn';
import type { CellType, RnnSpec, RnnWeights } from '@streamcell/rnn';
import { createOrtStepper } from '../kernel/ort-stepper.ts';
import { createRng, randomWeights } from '../kernel/random.ts';
import { flopsPerStreamStep } from '../kernel/report.ts';
import { AGREEMENT_TOLERANCE, KernelMismatchError, assertSameStep, compareOneStep } from '../kernel/verify.ts';

const BATCH = 3;

function tinySpec(cell: CellType, numLayers = 1): RnnSpec {
  return { cell, inputSize: 3, hiddenSize: 5, numLayers, outputSize: 2 };
}

/** One step of the ONNX graph built from `ortWeights` against our reference stepper on `weights`. */
async function difference(weights: RnnWeights, ortWeights: RnnWeights = weights): Promise<{ out: number; state: number }> {
  const ours = createReferenceStepper(weights, BATCH);
  const ort = await createOrtStepper(ortWeights, BATCH);
  try {
    return await compareOneStep(ours, ort, BATCH, stateSize(weights), createRng(7));
  } finally {
    await ort.release();
  }
}

describe('ONNX graph built from PyTorch-layout weights', () => {
  // The benchmark times lstm and gru; rnn_tanh/rnn_relu map to ONNX's RNN node.
  for (const cell of ['lstm', 'gru', 'rnn_tanh', 'rnn_relu'] as const) {
    it(`computes the same ${cell} step, head output and new state, as the reference stepper`, async () => {
      const d = await difference(randomWeights(tinySpec(cell), 11));
      expect(d.out).toBeLessThanOrEqual(AGREEMENT_TOLERANCE);
      expect(d.state).toBeLessThanOrEqual(AGREEMENT_TOLERANCE);
    });

    it(`chains ${cell} layers: a two-layer graph matches the reference stepper`, async () => {
      const d = await difference(randomWeights(tinySpec(cell, 2), 12));
      expect(d.out).toBeLessThanOrEqual(AGREEMENT_TOLERANCE);
      expect(d.state).toBeLessThanOrEqual(AGREEMENT_TOLERANCE);
    });

    it(`notices a ${cell} graph built from other weights: the benchmark's check can fail`, async () => {
      const weights = randomWeights(tinySpec(cell), 13);
      const layer = weights.layers[0]!;
      const h = weights.hiddenSize;
      const swapped = new Float32Array(layer.weightHh);
      if (cell === 'lstm' || cell === 'gru') {
        // Swap the first two gate blocks, as a wrong gate order would.
        swapped.set(layer.weightHh.subarray(h * h, 2 * h * h), 0);
        swapped.set(layer.weightHh.subarray(0, h * h), h * h);
      } else {
        // One gate only: transpose the recurrent matrix instead.
        for (let r = 0; r < h; r++) for (let c = 0; c < h; c++) swapped[c * h + r] = layer.weightHh[r * h + c]!;
      }
      const wrong: RnnWeights = { ...weights, layers: [{ ...layer, weightHh: swapped }] };

      const d = await difference(weights, wrong);
      expect(d.state).toBeGreaterThan(AGREEMENT_TOLERANCE);

      const ours = createReferenceStepper(weights, BATCH);
      const ort = await createOrtStepper(wrong, BATCH);
      try {
        await expect(assertSameStep(ours, ort, BATCH, stateSize(weights), createRng(1))).rejects.toBeInstanceOf(
          KernelMismatchError,
        );
      } finally {
        await ort.release();
      }
    });
  }
});

describe('flopsPerStreamStep', () => {
  it('counts the fused gate products and the head, two flops per multiply-add', () => {
    const spec: RnnSpec = { cell: 'lstm', inputSize: 8, hiddenSize: 64, numLayers: 1, outputSize: 4 };
    expect(flopsPerStreamStep(spec)).toBe(2 * 4 * 64 * (8 + 64) + 2 * 4 * 64);
    expect(flopsPerStreamStep({ ...spec, cell: 'gru', numLayers: 2 })).toBe(
      2 * 3 * 64 * (8 + 64) + 2 * 3 * 64 * (64 + 64) + 2 * 4 * 64,
    );
  });
});
