import type { Emit, FunctionBuilder } from './encoder.ts';

/**
 * Vectorised sigmoid and tanh for the generated kernels, four float32 lanes at
 * a time, accurate to a few float32 ulp (tests measure them against Math.exp
 * and Math.tanh).
 *
 * Both rest on one kernel for expm1(a·x) with a = −1 (sigmoid) or a = 2
 * (tanh): with y = a·x, write y = n·ln2 + r, n = round(y/ln2), |r| <= ln2/2,
 * then
 *
 *   expm1(r) ≈ r + r²·Q(r)     Q of degree 4, minimax for relative error
 *                              (1.3e-8 in exact arithmetic, below float32's ulp)
 *   exp(y)   = 2^n·expm1(r) + 2^n
 *   expm1(y) = 2^n·expm1(r) + (2^n − 1)
 *   σ(x)     = 1 / (1 + exp(−x))
 *   tanh(x)  = expm1(2x) / (expm1(2x) + 2)
 *
 * Keeping expm1 rather than exp is what keeps tanh accurate near zero.
 * Details that save instructions without costing accuracy:
 * - n comes from adding 1.5·2^23 + 127: the addition rounds to an integer that
 *   lands, already biased, in the low mantissa bits, so one shift builds the
 *   float 2^n.
 * - r is computed as a·h with h = x − n·ln2/a (ln2 split in a 9-bit high part,
 *   so n·ln2_hi/a is exact, and a low part), and a is folded into the
 *   polynomial coefficients (exact: a is ±1 or 2).
 * - multiplying by 2^n is exact, so `2^n·p + 2^n` rounds once whether or not
 *   the engine fuses the multiply-add.
 * Lanes never interact, so a value's result does not depend on its lane.
 */

const LOG2E = 1.4426950408889634;
/** 1.5·2^23 + 127: rounds to an integer and carries the exponent bias. */
const ROUND_BIASED = 12582912 + 127;
/** ln2 = LN2_HI + LN2_LO; LN2_HI has 9 significant bits so n·LN2_HI is exact for |n| < 2^15. */
const LN2_HI = 0.693359375;
const LN2_LO = -2.1219444005469057e-4;
/**
 * Q(r) ≈ (expm1(r) − r)/r² on |r| <= ln2/2, coefficients of r^0..r^4.
 * Fitted for us (Lawson's iteratively reweighted least squares on a dense
 * grid, minimising the maximum relative error of expm1).
 */
const Q_COEFFS = [0.4999999814956608, 0.16666543429427183, 0.041667200780003015, 0.00836654646848847, 0.001388250870431813];
/** For σ: −x in [−87, 88] keeps 2^n a normal float. */
const SIGMOID_MIN = -88;
const SIGMOID_MAX = 87;
/** tanh rounds to ±1 in float32 beyond |x| ≈ 9.01; clamping keeps expm1 finite. */
const TANH_LIMIT = 10;

/** The constants of expm1(a·x) for one a. */
interface ExpConstants {
  readonly aLog2e: number;
  readonly negLn2HiOverA: number;
  readonly negLn2LoOverA: number;
  /** d_k = c_k·a^k for k = 1..6 (d_1 = a), highest first. */
  readonly poly: readonly number[];
}

function expConstants(a: number): ExpConstants {
  const poly = Q_COEFFS.map((c, i) => c * a ** (i + 2)).reverse();
  poly.push(a);
  return { aLog2e: a * LOG2E, negLn2HiOverA: -LN2_HI / a, negLn2LoOverA: -LN2_LO / a, poly };
}

const SIGMOID = expConstants(-1);
const TANH = expConstants(2);

const FLOAT_CONSTANTS = [
  ...new Set([
    ROUND_BIASED,
    ...[SIGMOID, TANH].flatMap((c) => [c.aLog2e, c.negLn2HiOverA, c.negLn2LoOverA, ...c.poly]),
    SIGMOID_MIN,
    SIGMOID_MAX,
    -TANH_LIMIT,
    TANH_LIMIT,
    1,
    2,
    0,
  ]),
];

/** Scratch and constant locals shared by every activation emitted into one function. */
export interface ActivationScratch {
  readonly h: number;
  readonly k: number;
  readonly n: number;
  readonly q: number;
  readonly scale: number;
  readonly constants: ReadonlyMap<number, number>;
}

/** Declares the locals once per function. */
export function activationScratch(f: FunctionBuilder): ActivationScratch {
  return {
    h: f.local('v128'),
    k: f.local('v128'),
    n: f.local('v128'),
    q: f.local('v128'),
    scale: f.local('v128'),
    constants: new Map(FLOAT_CONSTANTS.map((v) => [v, f.local('v128')])),
  };
}

/**
 * Sets the constant locals. Call it before each activation loop: V8
 * materialises every inline v128.const with three instructions, whereas a
 * local stays in a register or is reloaded with one load.
 */
export function emitActivationConstants(f: FunctionBuilder, s: ActivationScratch): void {
  for (const [value, local] of s.constants) {
    f.f32x4Const(value);
    f.set(local);
  }
}

/** Pushes the splatted constant `value` (from its local). */
export function emitConstant(f: FunctionBuilder, s: ActivationScratch, value: number): void {
  const local = s.constants.get(value);
  if (local === undefined) throw new Error(`activation constant ${value} is not declared`);
  f.get(local);
}

/**
 * From x (clamped) on the stack: leaves p = expm1(r) on the stack and 2^n in
 * s.scale, where a·x = n·ln2 + r.
 */
function emitExpm1Parts(f: FunctionBuilder, s: ActivationScratch, c: ExpConstants): void {
  const cst = (v: number): Emit => () => emitConstant(f, s, v);
  const get = (i: number): Emit => () => f.get(i);
  f.set(s.h); // x for now
  f.madd(get(s.h), cst(c.aLog2e), cst(ROUND_BIASED));
  f.tee(s.k);
  emitConstant(f, s, ROUND_BIASED);
  f.f32x4Sub();
  f.set(s.n);
  f.madd(get(s.n), cst(c.negLn2HiOverA), get(s.h));
  f.set(s.h);
  f.madd(get(s.n), cst(c.negLn2LoOverA), get(s.h));
  f.set(s.h); // h = x − n·ln2/a, so r = a·h
  const [first, ...rest] = c.poly as [number, ...number[]];
  f.madd(cst(first), get(s.h), cst(rest[0]!));
  for (let i = 1; i < rest.length; i++) {
    f.set(s.q);
    f.madd(get(s.q), get(s.h), cst(rest[i]!));
  }
  f.get(s.h);
  f.f32x4Mul(); // p = h·(d1 + h·(d2 + ...)) = expm1(r)
  f.get(s.k);
  f.i32(23);
  f.i32x4Shl();
  f.set(s.scale);
}

/** Clamps the value on the stack; pmax/pmin operand order lets NaN pass through. */
function emitClamp(f: FunctionBuilder, s: ActivationScratch, lo: number, hi: number): void {
  emitConstant(f, s, lo);
  f.f32x4Pmax(); // v < lo ? lo : v
  emitConstant(f, s, hi);
  f.f32x4Pmin(); // hi < v ? hi : v
}

/** σ(x) for x produced by `x`, left on the stack. */
export function emitSigmoid(f: FunctionBuilder, s: ActivationScratch, x: Emit): void {
  emitConstant(f, s, 1);
  x();
  emitClamp(f, s, SIGMOID_MIN, SIGMOID_MAX);
  emitExpm1Parts(f, s, SIGMOID);
  f.set(s.q);
  emitConstant(f, s, 1);
  f.madd(
    () => f.get(s.q),
    () => f.get(s.scale),
    () => f.get(s.scale),
  ); // exp(−x)
  f.f32x4Add();
  f.f32x4Div();
}

/** tanh(x) for x produced by `x`, left on the stack. */
export function emitTanh(f: FunctionBuilder, s: ActivationScratch, x: Emit): void {
  x();
  emitClamp(f, s, -TANH_LIMIT, TANH_LIMIT);
  emitExpm1Parts(f, s, TANH);
  f.set(s.q);
  f.madd(
    () => f.get(s.q),
    () => f.get(s.scale),
    () => {
      f.get(s.scale);
      emitConstant(f, s, 1);
      f.f32x4Sub();
    },
  ); // expm1(2x)
  f.tee(s.q);
  f.get(s.q);
  emitConstant(f, s, 2);
  f.f32x4Add();
  f.f32x4Div();
}
