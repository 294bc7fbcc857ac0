import { describe, expect, it } from 'vitest';
import { initWeights, seededRandom, validateWeights } from '../src/index.ts';

describe('initWeights', () => {
  it("draws PyTorch's default init, U(-1/sqrt(H), 1/sqrt(H)), of valid shapes, the same for the same seed", () => {
    const spec = { cell: 'gru', inputSize: 3, hiddenSize: 16, numLayers: 2, outputSize: 4 } as const;
    const w = initWeights(spec, seededRandom(5));
    expect(() => validateWeights(w)).not.toThrow();
    const all = [...w.layers.flatMap((l) => [...l.weightIh, ...l.weightHh, ...l.biasIh, ...l.biasHh]), ...w.headWeight, ...w.headBias];
    const bound = 1 / Math.sqrt(16);
    expect(Math.max(...all.map(Math.abs))).toBeLessThanOrEqual(bound);
    // Spread over the range, not bunched: the largest draw is near the bound.
    expect(Math.max(...all.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect(initWeights(spec, seededRandom(5))).toEqual(w);
    expect(initWeights(spec, seededRandom(6))).not.toEqual(w);
  });
});
