import { gateCount } from '@streamcell/rnn';
import type { LayerWeights, RnnSpec, RnnWeights } from '@streamcell/rnn';

/** Uniform floats in [0, 1) from a seed; the same seed gives the same sequence. */
export type Rng = () => number;

/**
 * Seeded generator (xorshift32 over a scrambled seed). Weights only need to be
 * reproducible and spread out, not cryptographic; Math.random cannot be seeded.
 */
export function createRng(seed: number): Rng {
  // Scramble so that nearby seeds (1, 2, 3) start far apart, and never at 0,
  // the one state xorshift cannot leave.
  let s = Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0 || 0x6d2b79f5;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

/** Fills `out` with independent uniform draws from [-bound, bound). */
export function fillUniform(rng: Rng, out: Float32Array, bound: number): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = (rng() * 2 - 1) * bound;
  return out;
}

/**
 * Random weights initialised like PyTorch's nn.LSTM/nn.GRU/nn.RNN and
 * nn.Linear: every parameter uniform in ±1/sqrt(hiddenSize) (the head's fan-in
 * is hiddenSize too).
 */
export function randomWeights(spec: RnnSpec, seed: number): RnnWeights {
  const rng = createRng(seed);
  const { hiddenSize: h, inputSize, outputSize, numLayers } = spec;
  const rows = gateCount(spec.cell) * h;
  const bound = 1 / Math.sqrt(h);
  const layers: LayerWeights[] = [];
  for (let k = 0; k < numLayers; k++) {
    const layerInput = k === 0 ? inputSize : h;
    layers.push({
      weightIh: fillUniform(rng, new Float32Array(rows * layerInput), bound),
      weightHh: fillUniform(rng, new Float32Array(rows * h), bound),
      biasIh: fillUniform(rng, new Float32Array(rows), bound),
      biasHh: fillUniform(rng, new Float32Array(rows), bound),
    });
  }
  return {
    ...spec,
    layers,
    headWeight: fillUniform(rng, new Float32Array(outputSize * h), bound),
    headBias: fillUniform(rng, new Float32Array(outputSize), bound),
  };
}
