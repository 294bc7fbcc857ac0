import { gateCount } from '../src/index.ts';
import type { CellType, RnnSpec, RnnWeights } from '../src/index.ts';

/** A small seeded PRNG (mulberry32) so that every test run sees the same numbers. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform floats in [-scale, scale). */
export function uniform(rand: () => number, n: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}

/** Weights drawn like PyTorch's default init: U(-1/sqrt(H), 1/sqrt(H)), times `gain`. */
export function randomWeights(spec: RnnSpec, rand: () => number, gain = 1): RnnWeights {
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

/** Shorthand for a spec. */
export function spec(cell: CellType, inputSize: number, hiddenSize: number, numLayers: number, outputSize: number): RnnSpec {
  return { cell, inputSize, hiddenSize, numLayers, outputSize };
}

/** Largest |a−b| / max(1, |b|): absolute error for values up to 1, relative above. */
export function maxScaledError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!));
    // NaN must not slip through as "no error".
    if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
  }
  return worst;
}

/** Largest |a−b|. */
export function maxAbsError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - b[i]!);
    if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
  }
  return worst;
}

/** The bit patterns of a float32 array, for bitwise comparisons. */
export function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}
