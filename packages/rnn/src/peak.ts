import { relaxedSimdSupported } from './fast.ts';
import { encodeModule, FunctionBuilder } from './wasm/encoder.ts';
import { instantiate, wasmRevectorize } from './wasm/runtime.ts';

/** What {@link measureFmaPeak} found. */
export interface FmaPeak {
  /** Multiply-add throughput of one thread, GFLOP/s (2 flops per lane). */
  readonly gflops: number;
  /** Whether the loop ran as 256-bit instructions (V8's revectorizer, see wasmRevectorize). */
  readonly revectorized: boolean;
  /** Whether the multiply-adds were relaxed_madd (fused where the CPU has FMA). */
  readonly relaxed: boolean;
}

/**
 * Independent accumulator chains: enough to cover the latency of two FMA
 * units, few enough to stay in the 16 vector registers (20 chains pair up
 * into 10 ymm registers; unpaired, 12 xmm).
 */
const chainsFor = (revectorized: boolean): number => (revectorized ? 20 : 12);

/**
 * The machine's peak of the arithmetic our kernels use, measured rather than
 * looked up: a WebAssembly loop of independent f32x4 multiply-add chains
 * (generated like the kernels, so revectorized in pairs where they are),
 * timed over about `seconds`. The kernel benchmark prints its GFLOP/s beside
 * this figure.
 */
export function measureFmaPeak(seconds = 0.3): FmaPeak {
  const revectorized = wasmRevectorize();
  const relaxed = relaxedSimdSupported();
  const CHAINS = chainsFor(revectorized);
  const f = new FunctionBuilder(['i32'], [], relaxed);
  const acc = Array.from({ length: CHAINS }, () => f.local('v128'));
  const a = f.local('v128');
  const b = f.local('v128');
  f.f32x4Const(0.999);
  f.set(a);
  f.f32x4Const(0.001);
  f.set(b);
  for (const v of acc) {
    f.f32x4Const(1);
    f.set(v);
  }
  f.loop();
  for (const v of acc) {
    f.madd(
      () => f.get(v),
      () => f.get(a),
      () => f.get(b),
    );
    f.set(v);
  }
  f.get(0);
  f.i32(1);
  f.i32Sub();
  f.tee(0);
  f.brIf(0);
  f.end();
  // Neighbouring stores of the results keep the loop alive and let V8 pair the chains.
  acc.forEach((v, i) => {
    f.i32(0);
    f.get(v);
    f.store(i * 16);
  });
  const { peak } = instantiate<{ peak: (n: number) => void }>(encodeModule(1, [{ body: f, exportName: 'peak' }]));
  for (let i = 0; i < 20; i++) peak(50_000); // into the optimising tier
  let n = 100_000;
  for (;;) {
    const t0 = performance.now();
    peak(n);
    const s = (performance.now() - t0) / 1000;
    if (s >= seconds || n > 2 ** 30) return { gflops: (n * CHAINS * 4 * 2) / s / 1e9, revectorized, relaxed };
    n = Math.min(2 ** 31 - 1, Math.ceil(n * Math.max(2, (seconds * 1.1) / Math.max(s, 1e-4))));
  }
}
