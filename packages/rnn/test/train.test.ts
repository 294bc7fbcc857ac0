import { describe, expect, it } from 'vitest';
import { clipByGlobalNorm, createAdam, globalNorm, splitByTime, train, TrainingError } from '../src/index.ts';
import type { RnnWeights, TrainOptions, TrainProgress, TrainSequence } from '../src/index.ts';
import { bits, seededRandom, spec, uniform } from './helpers.ts';

/** A sine wave sampled every 0.3 rad: input [sin, cos], targets the next two values of sin (horizon 2). */
function sine(length: number, phase: number, sign = 1): TrainSequence {
  const value = (t: number): number => Math.sin(0.3 * t + phase);
  const inputs = new Float32Array(length * 2);
  const targets = new Float32Array(length * 2);
  for (let t = 0; t < length; t++) {
    inputs[2 * t] = value(t);
    inputs[2 * t + 1] = Math.cos(0.3 * t + phase);
    targets[2 * t] = t + 1 < length ? sign * value(t + 1) : NaN;
    targets[2 * t + 1] = t + 2 < length ? sign * value(t + 2) : NaN;
  }
  return { inputs, targets, length };
}

const SINE_SPEC = spec('lstm', 2, 8, 1, 2);

function options(overrides: Partial<TrainOptions> = {}): TrainOptions {
  return {
    spec: SINE_SPEC,
    train: [sine(120, 0), sine(90, 1)],
    validation: [sine(60, 2)],
    window: 10,
    epochs: 4,
    lr: 0.01,
    clip: 1,
    seed: 3,
    batchSize: 4,
    ...overrides,
  };
}

function allBits(w: RnnWeights): number[] {
  return [...w.layers.flatMap((l) => [l.weightIh, l.weightHh, l.biasIh, l.biasHh]), w.headWeight, w.headBias].flatMap((t) => [...bits(t)]);
}

describe('gradient clipping by global norm', () => {
  it('scales a gradient above the limit to norm == clip, keeping its direction', () => {
    const g = Float64Array.from(uniform(seededRandom(1), 50, 3));
    const before = Float64Array.from(g);
    const norm = clipByGlobalNorm(g, 2);
    expect(norm).toBeGreaterThan(2);
    expect(globalNorm(g)).toBeCloseTo(2, 12);
    for (let i = 0; i < g.length; i++) expect(g[i]).toBeCloseTo((before[i]! * 2) / norm, 14);
  });

  it('leaves a gradient at or below the limit, and everything when off (0 or Infinity)', () => {
    const g = Float64Array.from(uniform(seededRandom(2), 50, 3));
    const before = Float64Array.from(g);
    const norm = globalNorm(g);
    clipByGlobalNorm(g, norm * 1.5);
    expect(g).toEqual(before);
    clipByGlobalNorm(g, 0);
    expect(g).toEqual(before);
    clipByGlobalNorm(g, Infinity);
    expect(g).toEqual(before);
  });
});

describe('Adam', () => {
  it('takes the steps of the textbook formula with bias correction (torch.optim.Adam defaults)', () => {
    const params = Float64Array.from([1, -2, 0.5]);
    const adam = createAdam(3, { lr: 0.1 });
    const grads = [
      [0.5, -0.1, 0],
      [0.2, 0.3, -4],
    ];
    // By hand: m, v, then p -= lr · m̂ / (sqrt(v̂) + eps).
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    const want = [1, -2, 0.5];
    grads.forEach((g, step) => {
      const t = step + 1;
      for (let i = 0; i < 3; i++) {
        m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
        v[i] = 0.999 * v[i]! + 0.001 * g[i]! * g[i]!;
        const mHat = m[i]! / (1 - 0.9 ** t);
        const vHat = v[i]! / (1 - 0.999 ** t);
        want[i] = want[i]! - (0.1 * mHat) / (Math.sqrt(vHat) + 1e-8);
      }
      adam.step(params, Float64Array.from(g));
      for (let i = 0; i < 3; i++) expect(params[i]).toBeCloseTo(want[i]!, 14);
    });
    expect(adam.steps).toBe(2);
  });
});

describe('train', () => {
  it('is repeatable: the same seed gives bitwise the same weights and history losses', () => {
    const a = train(options());
    const b = train(options());
    expect(allBits(b.weights)).toEqual(allBits(a.weights));
    expect(b.history.map((h) => [h.trainLoss, h.validationLoss])).toEqual(a.history.map((h) => [h.trainLoss, h.validationLoss]));
    const c = train(options({ seed: 4 }));
    expect(allBits(c.weights)).not.toEqual(allBits(a.weights));
  });

  it('learns a sine wave: train and validation loss fall', () => {
    const result = train(options({ epochs: 40, patience: 40 }));
    const first = result.history[0]!;
    const last = result.history.at(-1)!;
    expect(result.history).toHaveLength(40);
    expect(last.trainLoss).toBeLessThan(0.1 * first.trainLoss);
    expect(last.validationLoss!).toBeLessThan(0.1 * first.validationLoss!);
    expect(result.bestEpoch).toBeGreaterThan(30);
    expect(result.stoppedEarly).toBe(false);
  });

  it('stops early when validation stops improving, returning the best epoch', () => {
    // Validation asks for the opposite of what training teaches: it gets worse as training gets better.
    const result = train(options({ validation: [sine(60, 2, -1)], epochs: 30, patience: 3 }));
    expect(result.stoppedEarly).toBe(true);
    expect(result.history.length).toBe(result.bestEpoch + 3);
    const best = result.history[result.bestEpoch - 1]!.validationLoss!;
    for (const h of result.history.slice(result.bestEpoch)) expect(h.validationLoss!).toBeGreaterThanOrEqual(best);
    // The weights returned are those after the best epoch: training for exactly that many epochs gives the same bits.
    const again = train(options({ validation: [], epochs: result.bestEpoch }));
    expect(allBits(result.weights)).toEqual(allBits(again.weights));
  });

  it('without validation runs every epoch and keeps the last weights', () => {
    const result = train(options({ validation: [], epochs: 3, patience: 1 }));
    expect(result.history.map((h) => h.validationLoss)).toEqual([null, null, null]);
    expect(result.bestEpoch).toBe(3);
    expect(result.stoppedEarly).toBe(false);
  });

  it('reports progress after every window update, with the validation loss on the last of each epoch', () => {
    const seen: TrainProgress[] = [];
    // Lanes: 120 + 90 rows, batchSize 4 -> 2 lanes of 60 and 2 of 45; windows of 10 -> 6 per epoch.
    train(options({ epochs: 2, onProgress: (p) => seen.push(p) }));
    expect(seen.map((p) => `${p.epoch}/${p.epochs} ${p.batch}/${p.batches}`)).toEqual(
      [1, 2].flatMap((e) => [1, 2, 3, 4, 5, 6].map((b) => `${e}/2 ${b}/6`)),
    );
    seen.forEach((p) => {
      expect(p.validationLoss !== undefined).toBe(p.batch === p.batches);
      expect(Number.isFinite(p.loss)).toBe(true);
    });
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.elapsedMs).toBeGreaterThanOrEqual(seen[i - 1]!.elapsedMs);
  });

  it('starts from `initial` when given: zero epochs of change with a tiny learning rate', () => {
    const first = train(options({ epochs: 2, validation: [] }));
    const resumed = train(options({ epochs: 1, validation: [], lr: 1e-12, initial: first.weights }));
    const a = allBits(first.weights);
    const b = allBits(resumed.weights);
    // A 1e-12 step moves float32 weights by less than half an ulp.
    expect(b).toEqual(a);
  });

  it('fails when the validation loss is not finite, rather than keeping the untrained weights', () => {
    // A relu RNN whose recurrent weights grow the state: 8 training rows stay finite, 3,000 validation rows overflow.
    const reluSpec = spec('rnn_relu', 2, 8, 1, 2);
    const grow = (length: number): TrainSequence => ({ inputs: new Float32Array(length * 2).fill(1), targets: new Float32Array(length * 2).fill(0.5), length });
    const initial = train({ ...options({ spec: reluSpec, epochs: 1, validation: [] }), train: [grow(8)] }).weights;
    const explosive: RnnWeights = { ...initial, layers: initial.layers.map((l) => ({ ...l, weightHh: new Float32Array(l.weightHh.length).fill(1.5), biasIh: new Float32Array(l.biasIh.length).fill(1) })) };
    let error: unknown;
    try {
      train(options({ spec: reluSpec, train: [grow(8)], validation: [grow(3000)], initial: explosive, lr: 1e-9, epochs: 3 }));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TrainingError);
    expect((error as TrainingError).message).toMatch(/training diverged: the validation loss is (Infinity|NaN) after epoch 1 .*lower lr, or a smaller clip/);
  });

  it('rejects bad options and data with clear, coded errors', () => {
    const expectError = (o: TrainOptions, code: string, pattern: RegExp): void => {
      let caught: unknown;
      try {
        train(o);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(TrainingError);
      expect((caught as TrainingError).code).toBe(code);
      expect((caught as TrainingError).message).toMatch(pattern);
    };
    expectError(options({ lr: 0 }), 'config_invalid', /lr: must be a finite number > 0/);
    expectError(options({ window: 0 }), 'config_invalid', /window: must be a positive integer/);
    expectError(options({ epochs: 1.5 }), 'config_invalid', /epochs/);
    expectError(options({ clip: -1 }), 'config_invalid', /clip/);
    expectError(options({ loss: 'l2' as never }), 'config_invalid', /loss: must be one of mse, mae, huber/);
    expectError(options({ spec: spec('lstm', 2, 0, 1, 2) }), 'config_invalid', /spec: hiddenSize must be a positive integer/);
    expectError(options({ initial: train(options({ spec: spec('gru', 2, 8, 1, 2), epochs: 1 })).weights }), 'config_invalid', /initial: cell is gru/);
    const short: TrainSequence = { inputs: new Float32Array(5), targets: new Float32Array(6), length: 3 };
    expectError(options({ train: [short] }), 'input_invalid', /train\[0\]: inputs hold 5 floats, 3 rows x inputSize 2 need 6/);
    const nanInput = sine(20, 0);
    nanInput.inputs[7] = NaN;
    expectError(options({ train: [nanInput] }), 'input_invalid', /train\[0\]: non-finite input NaN at row 3/);
    const unscored: TrainSequence = { ...sine(20, 0), scoreFrom: 20 };
    expectError(options({ train: [unscored] }), 'input_invalid', /train: no target to score/);
    expectError(options({ validation: [{ ...sine(20, 0), scoreFrom: 21 }] }), 'input_invalid', /validation\[0\]: scoreFrom must be an integer in \[0, 20\]/);
  });
});

describe('splitByTime', () => {
  it('keeps every training target inside the training rows and scores validation after the cut', () => {
    // Targets hold the row index they come from: step s of row t is row t + s.
    const length = 12;
    const horizon = 3;
    const inputs = Float32Array.from({ length }, (_, t) => t);
    const targets = new Float32Array(length * horizon);
    for (let t = 0; t < length; t++) for (let s = 1; s <= horizon; s++) targets[t * horizon + s - 1] = t + s < length ? t + s : NaN;
    const at = 8;
    const { train: tr, validation } = splitByTime({ inputs, targets, length }, at, horizon);
    expect(tr.length).toBe(at);
    expect([...tr.inputs]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const used = [...tr.targets].filter((v) => !Number.isNaN(v));
    expect(Math.max(...used)).toBe(at - 1);
    // Row 5 keeps steps 1 and 2 (rows 6, 7) and loses step 3 (row 8).
    expect([...tr.targets.subarray(5 * horizon, 6 * horizon)]).toEqual([6, 7, NaN]);
    expect(validation.length).toBe(length);
    expect(validation.scoreFrom).toBe(at);
    expect(validation.targets).toBe(targets);
  });

  it('rejects a cut outside the sequence and a horizon that does not divide the targets', () => {
    const s = sine(10, 0);
    expect(() => splitByTime(s, 0, 2)).toThrow(/at: must be an integer in \[1, 9\]/);
    expect(() => splitByTime(s, 10, 2)).toThrow(/at:/);
    expect(() => splitByTime(s, 5, 3)).toThrow(/horizon/);
  });
});
