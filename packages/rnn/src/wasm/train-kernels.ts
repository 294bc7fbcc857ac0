import { encodeModule, FunctionBuilder } from './encoder.ts';
import { compile, instantiateCompiled } from './runtime.ts';

/**
 * The trainer's three matrix products in WebAssembly SIMD, float64
 * (f64x2, a separate multiply and add: IEEE results, the same bits as the
 * same operations in JavaScript). Arguments are byte addresses into the
 * module's memory and element counts; matrices are row-major.
 *
 * Every product is computed in register tiles of 2 × 4 vectors (two rows of
 * the result, eight float64 columns): per step of the inner loop, two
 * broadcast loads and four vector loads feed eight vector multiply-adds.
 * Shapes must fit the tile; {@link TrainKernels.fits} says which do, and the
 * engine computes the others in plain JavaScript.
 */
export interface TrainKernels {
  /** The module's memory; the engine keeps all its buffers in it. */
  readonly memory: ArrayBuffer;
  /**
   * out[b, r] = bias[r] + Σ_k Wt[k, r] · v[b, k] for b < lanes, r < rows, with
   * Wt the transpose of W [rows x cols] ([cols x rows]). Each sum starts from
   * the bias and adds k = 0, 1, ... in order: the bits of ../cells.ts affine().
   * Needs rows % 8 == 0 and lanes % 2 == 0.
   */
  affine(wt: number, bias: number, rows: number, cols: number, lanes: number, v: number, out: number): void;
  /**
   * dW[r, k] += Σ_b dg[b, r] · v[b, k] (b in order): the weight gradient of
   * an affine map. Needs rows % 2 == 0 and cols % 8 == 0.
   */
  outer(dW: number, rows: number, cols: number, lanes: number, dg: number, v: number): void;
  /**
   * dv[b, k] += Σ_r dg[b, r] · W[r, k] (r in order): the input gradient of
   * an affine map. Needs lanes % 2 == 0 and cols % 8 == 0.
   */
  back(W: number, rows: number, cols: number, lanes: number, dg: number, dv: number): void;
}

/** Bytes of one register tile's row: four f64x2 vectors. */
const TILE_BYTES = 64;

interface Locals {
  readonly acc: readonly number[];
  readonly xa: number;
  readonly xb: number;
  readonly w: number;
  readonly n: number;
}

/**
 * Emits one 2 × 4-vector tile: accumulators loaded from [initA] and [initB]
 * (64 bytes each), `count` times: broadcast [splatA] and [splatB], load four
 * vectors at [vec], accA += w · xa, accB += w · xb, advance the pointers;
 * then stores to [storeA] and [storeB]. Arguments are local indices.
 */
function emitTile(
  f: FunctionBuilder,
  l: Locals,
  p: {
    initA: number;
    initB: number;
    storeA: number;
    storeB: number;
    splatA: number;
    splatB: number;
    splatStep: number;
    vec: number;
    vecStep: number;
    count: number;
  },
): void {
  for (let i = 0; i < 4; i++) {
    f.get(p.initA);
    f.load(16 * i);
    f.set(l.acc[i]!);
    f.get(p.initB);
    f.load(16 * i);
    f.set(l.acc[4 + i]!);
  }
  f.i32(0);
  f.set(l.n);
  f.block();
  f.loop();
  f.get(l.n);
  f.get(p.count);
  f.i32LtS();
  f.i32Eqz();
  f.brIf(1);
  f.get(p.splatA);
  f.load64Splat(0);
  f.set(l.xa);
  f.get(p.splatB);
  f.load64Splat(0);
  f.set(l.xb);
  for (let i = 0; i < 4; i++) {
    f.get(p.vec);
    f.load(16 * i);
    f.set(l.w);
    for (const [acc, x] of [
      [l.acc[i]!, l.xa],
      [l.acc[4 + i]!, l.xb],
    ] as const) {
      f.get(acc);
      f.get(l.w);
      f.get(x);
      f.f64x2Mul();
      f.f64x2Add();
      f.set(acc);
    }
  }
  for (const [ptr, step] of [
    [p.splatA, p.splatStep],
    [p.splatB, p.splatStep],
    [p.vec, p.vecStep],
  ] as const) {
    f.get(ptr);
    f.get(step);
    f.i32Add();
    f.set(ptr);
  }
  f.addTo(l.n, 1);
  f.br(0);
  f.end();
  f.end();
  for (let i = 0; i < 4; i++) {
    f.get(p.storeA);
    f.get(l.acc[i]!);
    f.store(16 * i);
    f.get(p.storeB);
    f.get(l.acc[4 + i]!);
    f.store(16 * i);
  }
}

/** for (counter = 0; counter < limit; counter += step) body() — counter, limit: i32 locals. */
function emitFor(f: FunctionBuilder, counter: number, limit: number, step: number, body: () => void): void {
  f.i32(0);
  f.set(counter);
  f.block();
  f.loop();
  f.get(counter);
  f.get(limit);
  f.i32LtS();
  f.i32Eqz();
  f.brIf(1);
  body();
  f.addTo(counter, step);
  f.br(0);
  f.end();
  f.end();
}

function locals(f: FunctionBuilder): Locals {
  return {
    acc: Array.from({ length: 8 }, () => f.local('v128')),
    xa: f.local('v128'),
    xb: f.local('v128'),
    w: f.local('v128'),
    n: f.local('i32'),
  };
}

/** target = the sum of `terms`, each a local or the product of two locals (i32 address arithmetic). */
function setSum(f: FunctionBuilder, target: number, terms: readonly (number | [number, number])[]): void {
  terms.forEach((t, i) => {
    if (typeof t === 'number') f.get(t);
    else {
      f.get(t[0]);
      f.get(t[1]);
      f.i32Mul();
    }
    if (i > 0) f.i32Add();
  });
  f.set(target);
}

function buildAffine(): FunctionBuilder {
  // (wt, bias, rows, cols, lanes, v, out)
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], false);
  const [wt, bias, rows, cols, lanes, v, out] = [0, 1, 2, 3, 4, 5, 6];
  const l = locals(f);
  const rowBytes = f.local('i32');
  const colBytes = f.local('i32');
  const b = f.local('i32');
  const rb = f.local('i32');
  const vA = f.local('i32');
  const vB = f.local('i32');
  const oA = f.local('i32');
  const oB = f.local('i32');
  const initA = f.local('i32');
  const storeA = f.local('i32');
  const storeB = f.local('i32');
  const splatA = f.local('i32');
  const splatB = f.local('i32');
  const eight = f.local('i32');
  const vec = f.local('i32');
  f.get(rows);
  f.i32(8);
  f.i32Mul();
  f.set(rowBytes);
  f.get(cols);
  f.i32(8);
  f.i32Mul();
  f.set(colBytes);
  f.i32(8);
  f.set(eight);
  emitFor(f, b, lanes, 2, () => {
    setSum(f, vA, [v, [b, colBytes]]);
    setSum(f, vB, [vA, colBytes]);
    setSum(f, oA, [out, [b, rowBytes]]);
    setSum(f, oB, [oA, rowBytes]);
    emitFor(f, rb, rowBytes, TILE_BYTES, () => {
      setSum(f, initA, [bias, rb]);
      setSum(f, storeA, [oA, rb]);
      setSum(f, storeB, [oB, rb]);
      setSum(f, splatA, [vA]);
      setSum(f, splatB, [vB]);
      setSum(f, vec, [wt, rb]);
      emitTile(f, l, { initA, initB: initA, storeA, storeB, splatA, splatB, splatStep: eight, vec, vecStep: rowBytes, count: cols });
    });
  });
  return f;
}

function buildOuter(): FunctionBuilder {
  // (dW, rows, cols, lanes, dg, v)
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], false);
  const [dW, rows, cols, lanes, dg, v] = [0, 1, 2, 3, 4, 5];
  const l = locals(f);
  const rowBytes = f.local('i32');
  const colBytes = f.local('i32');
  const r = f.local('i32');
  const kb = f.local('i32');
  const pA = f.local('i32');
  const pB = f.local('i32');
  const splatA = f.local('i32');
  const splatB = f.local('i32');
  const vec = f.local('i32');
  const r8 = f.local('i32');
  f.get(rows);
  f.i32(8);
  f.i32Mul();
  f.set(rowBytes);
  f.get(cols);
  f.i32(8);
  f.i32Mul();
  f.set(colBytes);
  emitFor(f, r, rows, 2, () => {
    f.get(r);
    f.i32(8);
    f.i32Mul();
    f.set(r8);
    emitFor(f, kb, colBytes, TILE_BYTES, () => {
      setSum(f, pA, [dW, [r, colBytes], kb]);
      setSum(f, pB, [pA, colBytes]);
      setSum(f, splatA, [dg, r8]);
      f.get(splatA);
      f.i32(8);
      f.i32Add();
      f.set(splatB);
      setSum(f, vec, [v, kb]);
      emitTile(f, l, { initA: pA, initB: pB, storeA: pA, storeB: pB, splatA, splatB, splatStep: rowBytes, vec, vecStep: colBytes, count: lanes });
    });
  });
  return f;
}

function buildBack(): FunctionBuilder {
  // (W, rows, cols, lanes, dg, dv)
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], false);
  const [W, rows, cols, lanes, dg, dv] = [0, 1, 2, 3, 4, 5];
  const l = locals(f);
  const rowBytes = f.local('i32');
  const colBytes = f.local('i32');
  const b = f.local('i32');
  const kb = f.local('i32');
  const pA = f.local('i32');
  const pB = f.local('i32');
  const splatA = f.local('i32');
  const splatB = f.local('i32');
  const vec = f.local('i32');
  const eight = f.local('i32');
  f.get(rows);
  f.i32(8);
  f.i32Mul();
  f.set(rowBytes);
  f.get(cols);
  f.i32(8);
  f.i32Mul();
  f.set(colBytes);
  f.i32(8);
  f.set(eight);
  emitFor(f, b, lanes, 2, () => {
    emitFor(f, kb, colBytes, TILE_BYTES, () => {
      setSum(f, pA, [dv, [b, colBytes], kb]);
      setSum(f, pB, [pA, colBytes]);
      setSum(f, splatA, [dg, [b, rowBytes]]);
      setSum(f, splatB, [splatA, rowBytes]);
      setSum(f, vec, [W, kb]);
      emitTile(f, l, { initA: pA, initB: pB, storeA: pA, storeB: pB, splatA, splatB, splatStep: eight, vec, vecStep: colBytes, count: rows });
    });
  });
  return f;
}

/** Largest memory the kernels may ask for: 2 GiB, as for the fast stepper. */
const MAX_BYTES = 2 ** 31;

/**
 * Compiled modules by memory size. The code does not depend on the sizes,
 * only the memory declaration does; gradient checks create thousands of
 * small engines, which then share one compiled module. Kept small: engines
 * of a process come in a few sizes.
 */
const compiled = new Map<number, object>();
const MAX_CACHED = 16;

/** Instantiates the kernels over a fresh memory of at least `bytes` bytes. */
export function createTrainKernels(bytes: number): TrainKernels {
  if (bytes > MAX_BYTES) throw new RangeError(`the trainer needs ${bytes} bytes of kernel memory; the limit is 2 GiB (fewer lanes or a shorter window)`);
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  let module = compiled.get(pages);
  if (module === undefined) {
    module = compile(
      encodeModule(pages, [
        { body: buildAffine(), exportName: 'affine' },
        { body: buildOuter(), exportName: 'outer' },
        { body: buildBack(), exportName: 'back' },
      ]),
    );
    if (compiled.size >= MAX_CACHED) compiled.clear();
    compiled.set(pages, module);
  }
  const exports = instantiateCompiled<{
    memory: { buffer: ArrayBuffer };
    affine: TrainKernels['affine'];
    outer: TrainKernels['outer'];
    back: TrainKernels['back'];
  }>(module);
  // The memory never grows, so views over it stay valid for the kernels' life.
  return { memory: exports.memory.buffer, affine: exports.affine, outer: exports.outer, back: exports.back };
}
