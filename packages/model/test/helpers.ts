import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gateCount } from '@streamcell/rnn';
import type { CellType, RnnWeights } from '@streamcell/rnn';
import type { ManifestInput } from '../src/index.ts';

/** The PyTorch reference vectors shared by every package's tests. */
export const GOLDEN_DIR = resolve(import.meta.dirname, '../../../../shared/golden');

/** Deterministic PRNG (mulberry32): fuzz and random-weight tests must be reproducible from their seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A small valid manifest; `overrides` may break it on purpose. */
export function manifestFor(overrides: Partial<Record<string, unknown>> = {}): ManifestInput & Record<string, unknown> {
  return {
    format: 'streamcell/v1',
    name: 'test-model',
    version: '1',
    cell: 'lstm',
    inputSize: 3,
    hiddenSize: 4,
    numLayers: 2,
    horizon: 2,
    features: ['temp', 'humidity', 'light'],
    targets: ['temp', 'humidity'],
    outputSize: 4,
    scaler: { mean: [20, 40, 300], std: [2, 5, 100] },
    ...overrides,
  };
}

/** Random weights of the right shapes for a manifest-like spec. */
export function randomWeights(
  spec: { cell: CellType; inputSize: number; hiddenSize: number; numLayers: number; outputSize: number },
  seed = 1,
): RnnWeights {
  const rand = prng(seed);
  const fill = (n: number): Float32Array => Float32Array.from({ length: n }, () => rand() * 2 - 1);
  const rows = gateCount(spec.cell) * spec.hiddenSize;
  return {
    ...spec,
    layers: Array.from({ length: spec.numLayers }, (_, k) => ({
      weightIh: fill(rows * (k === 0 ? spec.inputSize : spec.hiddenSize)),
      weightHh: fill(rows * spec.hiddenSize),
      biasIh: fill(rows),
      biasHh: fill(rows),
    })),
    headWeight: fill(spec.outputSize * spec.hiddenSize),
    headBias: fill(spec.outputSize),
  };
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'streamcell-model-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}
