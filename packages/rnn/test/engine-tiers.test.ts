import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Crash replay recomputes forecasts in a fresh process, where V8 first runs
 * the kernel in its baseline compiler (Liftoff) and later in the optimising
 * one (TurboFan). Both must produce the same bits, and relaxed SIMD on a CPU
 * without FMA must equal the portable multiply-then-add build.
 */

const SCRIPT = fileURLToPath(new URL('./fixtures/step-hashes.ts', import.meta.url));

function run(flags: string[]): Record<string, string | boolean> {
  const stdout = execFileSync(process.execPath, [...flags, SCRIPT], { encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(stdout) as Record<string, string | boolean>;
}

describe('the kernel computes the same bits in every V8 tier', () => {
  it('baseline-only, optimising-only and default tiering agree', () => {
    const tiered = run([]);
    expect(run(['--liftoff', '--no-wasm-tier-up'])).toEqual(tiered);
    expect(run(['--no-liftoff'])).toEqual(tiered);
  });

  it('relaxed SIMD without FMA gives the bits of relaxedSimd: false', () => {
    const noFma = run(['--no-enable-fma3']);
    expect(noFma.fused).toBe(false);
    for (const cell of ['lstm', 'gru', 'rnn_tanh']) expect(noFma[`${cell}/relaxed`]).toBe(noFma[`${cell}/plain`]);
    // And the portable build is the same on every machine.
    const tiered = run([]);
    for (const cell of ['lstm', 'gru', 'rnn_tanh']) expect(noFma[`${cell}/plain`]).toBe(tiered[`${cell}/plain`]);
  });
});
