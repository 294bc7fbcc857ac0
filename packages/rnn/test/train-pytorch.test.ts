import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isCellType, lossAndGradients, train } from '../src/index.ts';
import type { LossKind, RnnSpec, RnnWeights, TrainSequence } from '../src/index.ts';

/**
 * Gradients and training steps equal to PyTorch 1.13's, on the fixtures that
 * packages/rnn/python/make_train_fixtures.py writes (every cell, 2 layers,
 * NaN targets and a scoreFrom; the `-tiled` ones have sizes the trainer
 * computes with its WebAssembly products). Regenerate with
 * `/usr/bin/python3 packages/rnn/python/make_train_fixtures.py`.
 */

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'train');

type Tensors = Record<string, number[]>;

interface Fixture {
  spec: RnnSpec;
  weights: Tensors;
  sequences: { length: number; scoreFrom: number; inputs: number[]; targets: (number | null)[] }[];
  loss: { kind: LossKind; huberDelta: number; value: number; gradients: Tensors };
  train: { window: number; epochs: number; lr: number; clip: number; batchSize: number; gradientNorms: number[]; weights: Tensors };
}

/** state_dict names in RnnWeights order. */
function tensorNames(spec: RnnSpec): string[] {
  const names: string[] = [];
  for (let l = 0; l < spec.numLayers; l++) names.push(`rnn.weight_ih_l${l}`, `rnn.weight_hh_l${l}`, `rnn.bias_ih_l${l}`, `rnn.bias_hh_l${l}`);
  return [...names, 'head.weight', 'head.bias'];
}

function toWeights(spec: RnnSpec, t: Tensors): RnnWeights {
  const get = (name: string): Float32Array => {
    const v = t[name];
    if (v === undefined) throw new Error(`fixture tensor ${name} missing`);
    return Float32Array.from(v);
  };
  return {
    ...spec,
    layers: Array.from({ length: spec.numLayers }, (_, l) => ({
      weightIh: get(`rnn.weight_ih_l${l}`),
      weightHh: get(`rnn.weight_hh_l${l}`),
      biasIh: get(`rnn.bias_ih_l${l}`),
      biasHh: get(`rnn.bias_hh_l${l}`),
    })),
    headWeight: get('head.weight'),
    headBias: get('head.bias'),
  };
}

/** The weights' tensors in state_dict order, whatever their float width. */
function tensorsOf(w: { layers: readonly { weightIh: ArrayLike<number>; weightHh: ArrayLike<number>; biasIh: ArrayLike<number>; biasHh: ArrayLike<number> }[]; headWeight: ArrayLike<number>; headBias: ArrayLike<number> }): ArrayLike<number>[] {
  return [...w.layers.flatMap((l) => [l.weightIh, l.weightHh, l.biasIh, l.biasHh]), w.headWeight, w.headBias];
}

function sequencesOf(f: Fixture): TrainSequence[] {
  return f.sequences.map((s) => ({
    inputs: Float32Array.from(s.inputs),
    targets: Float32Array.from(s.targets, (v) => v ?? NaN),
    length: s.length,
    scoreFrom: s.scoreFrom,
  }));
}

const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort();

describe('training matches PyTorch 1.13', () => {
  it('has a fixture for every cell', () => {
    const cells = files.map((f) => (JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as Fixture).spec.cell);
    expect([...new Set(cells)].sort()).toEqual(['gru', 'lstm', 'rnn_relu', 'rnn_tanh']);
  });

  for (const file of files) {
    const f = JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as Fixture;
    const { spec } = f;
    if (!isCellType(spec.cell)) throw new Error(`${file}: unknown cell ${JSON.stringify(spec.cell)}`);
    const weights = toWeights(spec, f.weights);
    const names = tensorNames(spec);

    it(`${file}: ${spec.cell}, ${spec.numLayers} layers, hidden ${spec.hiddenSize}: ${f.loss.kind} loss and every gradient equal PyTorch's (float64)`, () => {
      const { loss, gradients } = lossAndGradients(weights, sequencesOf(f), { loss: f.loss.kind, huberDelta: f.loss.huberDelta });
      expect(Math.abs(loss - f.loss.value)).toBeLessThanOrEqual(1e-12 * Math.abs(f.loss.value));
      const ours = tensorsOf(gradients!);
      names.forEach((name, i) => {
        const want = f.loss.gradients[name]!;
        const got = ours[i]!;
        expect(got.length, name).toBe(want.length);
        const scale = Math.max(...want.map(Math.abs));
        expect(scale, `${name} has a gradient to compare`).toBeGreaterThan(0);
        for (let k = 0; k < want.length; k++) {
          // Both sides are float64; only the order of the sums differs.
          expect(Math.abs(got[k]! - want[k]!), `${name}[${k}]`).toBeLessThanOrEqual(1e-10 * scale);
        }
      });
    });

    it(`${file}: train() with TBPTT windows, clipping and Adam ends on PyTorch's weights`, () => {
      const t = f.train;
      // Clipping must have been active for this to test it.
      expect(Math.max(...t.gradientNorms)).toBeGreaterThan(t.clip);
      const result = train({
        spec,
        train: sequencesOf(f),
        validation: [],
        window: t.window,
        epochs: t.epochs,
        lr: t.lr,
        clip: t.clip,
        seed: 0,
        batchSize: t.batchSize,
        loss: f.loss.kind,
        huberDelta: f.loss.huberDelta,
        initial: weights,
      });
      const ours = tensorsOf(result.weights);
      let moved = 0;
      names.forEach((name, i) => {
        const want = t.weights[name]!;
        const before = f.weights[name]!;
        for (let k = 0; k < want.length; k++) {
          // float32 results of float64 training (within two float32 ulps); PyTorch adds 1e-6 to the norm when clipping, we do not.
          expect(Math.abs(ours[i]![k]! - want[k]!), `${name}[${k}]`).toBeLessThanOrEqual(3e-7 * Math.max(1, Math.abs(want[k]!)));
          moved = Math.max(moved, Math.abs(want[k]! - before[k]!));
        }
      });
      // Adam moved the weights by about lr per step, far more than the tolerance.
      expect(moved).toBeGreaterThan(t.lr);
    });
  }
});
