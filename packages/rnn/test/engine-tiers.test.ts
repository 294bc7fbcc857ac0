import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Crash replay recomputes forecasts in a fresh process, where V8 first runs
 * the kernel in its baseline compiler (Liftoff) and later in the optimising
 * one (TurboFan). Both must produce the same bits, and relaxed SIMD on a CPU
 * without FMA must equal the portable multiply-then-add build.
 */

const SCRIPT = fileURLToPath(new URL('./fixtures/step-hashes.ts', import.meta.url));

function run(flags: string[], env: Record<string, string> = {}): Record<string, string | boolean> {
  const stdout = execFileSync(process.execPath, [...flags, SCRIPT], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return JSON.parse(stdout) as Record<string, string | boolean>;
}

/** What /proc/cpuinfo says (the revectorizer needs AVX2 on x86-64). */
function hasAvx2(): boolean {
  try {
    return process.arch === 'x64' && /^flags\s*:.*\bavx2\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

describe('the kernel computes the same bits in every V8 tier', () => {
  it('baseline-only, optimising-only and default tiering agree', () => {
    const tiered = run([]);
    expect(run(['--liftoff', '--no-wasm-tier-up'])).toEqual(tiered);
    expect(run(['--no-liftoff'])).toEqual(tiered);
  });

  it("V8's 256-bit revectorizer changes no bit (and is on where the CPU has AVX2)", () => {
    // --no-liftoff: every call runs optimised code, which is where the revectorizer works.
    const on = run(['--no-liftoff']);
    const off = run(['--no-liftoff'], { STREAMCELL_WASM_REVECTORIZE: '0' });
    expect(on.revectorized).toBe(hasAvx2());
    expect(off.revectorized).toBe(false);
    expect({ ...on, revectorized: false }).toEqual(off);
    // And the tiered run with it on, as a worker runs.
    expect(run([])).toEqual(on);
  });

  it('relaxed SIMD without FMA gives the bits of relaxedSimd: false', () => {
    const noFma = run(['--no-enable-fma3']);
    expect(noFma.fused).toBe(false);
    const cells = ['lstm', 'gru', 'rnn_tanh', 'lstm64', 'gru64'];
    for (const cell of cells) expect(noFma[`${cell}/relaxed`]).toBe(noFma[`${cell}/plain`]);
    // And the portable build is the same on every machine.
    const tiered = run([]);
    for (const cell of cells) expect(noFma[`${cell}/plain`]).toBe(tiered[`${cell}/plain`]);
  });
});
