import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initWeights, seededRandom } from '@streamcell/rnn';
import type { RnnSpec, RnnWeights } from '@streamcell/rnn';
import type { ManifestInput } from '../src/index.ts';

/** The PyTorch reference vectors shared by every package's tests. */
export const GOLDEN_DIR = resolve(import.meta.dirname, '../../../../shared/golden');

/** Seeded draws: fuzz and random-weight tests must be reproducible from their seed. */
export { seededRandom as prng } from '@streamcell/rnn';

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
export function randomWeights(spec: RnnSpec, seed = 1): RnnWeights {
  return initWeights(spec, seededRandom(seed));
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'streamcell-model-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}
