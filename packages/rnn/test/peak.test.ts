import { describe, expect, it } from 'vitest';
import { measureFmaPeak, relaxedSimdSupported, wasmRevectorize } from '../src/index.ts';

describe('measureFmaPeak (the ceiling bench:kernel prints)', () => {
  it('runs the multiply-add loop and says how it was built (no timing is asserted)', () => {
    const peak = measureFmaPeak(0.01);
    expect(Number.isFinite(peak.gflops) && peak.gflops > 0).toBe(true);
    expect(peak.revectorized).toBe(wasmRevectorize());
    expect(peak.relaxed).toBe(relaxedSimdSupported());
  });
});
