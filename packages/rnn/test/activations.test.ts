import { describe, expect, it } from 'vitest';
import { relaxedSimdSupported } from '../src/index.ts';
import { activationScratch, emitActivationConstants, emitSigmoid, emitTanh } from '../src/wasm/activations.ts';
import { encodeModule, FunctionBuilder } from '../src/wasm/encoder.ts';
import { instantiate } from '../src/wasm/runtime.ts';

/**
 * The kernels' σ and tanh are our own float32 approximations; they must stay
 * within a few float32 ulp of the exact functions for the 1e-5 parity with
 * PyTorch to hold over thousands of steps.
 */

const N = 1 << 16;

type Fn = (xs: Float32Array) => Float32Array;

/** Builds a module applying one activation to N floats at address 0, writing them after. */
function build(emit: typeof emitSigmoid, relaxed: boolean): Fn {
  const f = new FunctionBuilder(['i32'], [], relaxed);
  const p = f.local('i32');
  const s = activationScratch(f);
  emitActivationConstants(f, s);
  f.loop();
  f.get(p);
  f.i32(N * 4);
  f.i32Add();
  emit(f, s, () => {
    f.get(p);
    f.load(0);
  });
  f.store(0);
  f.get(p);
  f.i32(16);
  f.i32Add();
  f.tee(p);
  f.get(0);
  f.i32Ne();
  f.brIf(0);
  f.end();
  const ex = instantiate<{ memory: { buffer: ArrayBuffer }; run: (bytes: number) => void }>(
    encodeModule(Math.ceil((N * 8) / 65536), [{ body: f, exportName: 'run' }]),
  );
  const mem = new Float32Array(ex.memory.buffer);
  return (xs) => {
    if (xs.length > N || xs.length % 4 !== 0) throw new Error('bad length');
    mem.set(xs, 0);
    ex.run(xs.length * 4);
    return mem.slice(N, N + xs.length);
  };
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Dense grid over [lo, hi] plus values near zero of every magnitude, as float32. */
function grid(lo: number, hi: number): Float32Array {
  const xs: number[] = [];
  const n = N - 1024;
  for (let i = 0; i < n; i++) xs.push(lo + ((hi - lo) * i) / (n - 1));
  for (let e = -40; e <= 0; e++) xs.push(2 ** e, -(2 ** e), 1.5 * 2 ** e, -1.25 * 2 ** e);
  while (xs.length % 4 !== 0) xs.push(0);
  return Float32Array.from(xs);
}

function maxRelativeError(xs: Float32Array, ys: Float32Array, exact: (x: number) => number): { err: number; at: number } {
  let worst = { err: 0, at: 0 };
  xs.forEach((x, i) => {
    const want = exact(x);
    const err = want === 0 ? Math.abs(ys[i]!) : Math.abs(ys[i]! - want) / Math.abs(want);
    if (!(err <= worst.err)) worst = { err: Number.isNaN(err) ? Infinity : err, at: x };
  });
  return worst;
}

const variants = relaxedSimdSupported() ? [true, false] : [false];

describe.each(variants)('activations (relaxed SIMD: %s)', (relaxed) => {
  const sig = build(emitSigmoid, relaxed);
  const tanh = build(emitTanh, relaxed);

  it('σ is within 2e-7 relative of the exact value on [-80, 30]', () => {
    const xs = grid(-80, 30);
    const { err, at } = maxRelativeError(xs, sig(xs), sigmoid);
    expect(err, `worst at x = ${at}`).toBeLessThanOrEqual(2e-7);
  });

  it('tanh is within 2e-7 relative of the exact value on [-12, 12], including tiny inputs', () => {
    const xs = grid(-12, 12);
    const { err, at } = maxRelativeError(xs, tanh(xs), Math.tanh);
    expect(err, `worst at x = ${at}`).toBeLessThanOrEqual(2e-7);
  });

  it('saturates cleanly far out and passes NaN through', () => {
    const xs = Float32Array.from([1e4, -1e4, 200, -200, 88.5, -88.5, Infinity, -Infinity, NaN, 0, -0, 9.5]);
    const s = sig(xs);
    expect(s[0]).toBe(1);
    expect(s[1]).toBeGreaterThanOrEqual(0);
    expect(s[1]).toBeLessThan(1e-37);
    expect(s[6]).toBe(1);
    expect(s[7]).toBeLessThan(1e-37);
    expect(s[8]).toBeNaN();
    expect(s[9]).toBe(0.5);
    const t = tanh(xs);
    expect([t[0], t[1], t[2], t[3], t[6], t[7]]).toEqual([1, -1, 1, -1, 1, -1]);
    expect(t[8]).toBeNaN();
    expect(t[9]).toBe(0);
    expect(t[11]).toBe(Math.fround(Math.tanh(9.5)));
  });
});
