import { gateCount } from './spec.ts';
import type { RnnSpec, RnnWeights } from './types.ts';

/** Uniform draws in [0, 1). */
export type Random = () => number;

/**
 * A seeded generator (mulberry32): tests, benchmarks and training must be
 * repeatable from a seed, which Math.random cannot give.
 */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` floats uniform in [-scale, scale). */
export function uniform(rand: Random, n: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}

/**
 * Weights initialised as PyTorch initialises nn.LSTM/GRU/RNN: every cell
 * parameter uniform in +-1/sqrt(hidden), times `gain`; the head is drawn
 * with the same bound (its fan-in is hidden too).
 */
export function initWeights(spec: RnnSpec, rand: Random, gain = 1): RnnWeights {
  const { cell, inputSize, hiddenSize: H, numLayers, outputSize } = spec;
  const G = gateCount(cell);
  const k = gain / Math.sqrt(H);
  return {
    cell,
    inputSize,
    hiddenSize: H,
    numLayers,
    outputSize,
    layers: Array.from({ length: numLayers }, (_, l) => ({
      weightIh: uniform(rand, G * H * (l === 0 ? inputSize : H), k),
      weightHh: uniform(rand, G * H * H, k),
      biasIh: uniform(rand, G * H, k),
      biasHh: uniform(rand, G * H, k),
    })),
    headWeight: uniform(rand, outputSize * H, k),
    headBias: uniform(rand, outputSize, k),
  };
}
