import type { CellType, RnnSpec } from '../src/index.ts';

export { initWeights as randomWeights, seededRandom, uniform } from '../src/index.ts';

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
