import type { Emit, FunctionBuilder } from './encoder.ts';

/**
 * Vectorised sigmoid and tanh for the generated kernels, four float32 lanes at
 * a time, accurate to a couple of float32 ulp (tests measure them against
 * Math.exp and Math.tanh).
 *
 * Base-2 inputs. Both take their argument already multiplied by a constant
 * (SIGMOID_INPUT_SCALE = log2 e, TANH_INPUT_SCALE = 2·log2 e), so that they
 * work on t with e^{∓x} or e^{2x} = 2^{±t}:
 *
 *   sigmoidLog2(t) = 1 / (1 + 2^−t)        = σ(t / log2 e)
 *   tanhLog2(t)    = (2^t − 1) / (2^t + 1) = tanh(t / (2·log2 e))
 *
 * The kernel folds the scale into the packed gate weights and biases at
 * construction (one float32 rounding of each, far below the 1e-5 budget), so
 * the matrix product hands over t for free; only tanh(c) pays a multiply.
 * With t in base 2 the range reduction is exact and costs three additions:
 * n = round(t) comes from adding 1.5·2^23 + bias (the addition rounds to an
 * integer that lands, already biased, in the low mantissa bits, so one shift
 * builds the float 2^n), and f = t − n is exact (|f| <= 1/2). No Cody-Waite
 * ln2 splitting, no multiply by log2 e.
 *
 * 2^f = e^r with r = f·ln2, |r| <= ln2/2, from the Padé [3/3] form
 *
 *   e^r ≈ (E + O) / (E − O),   E = 1 + r²/10,   O = r/2 + r³/120
 *
 * (truncation error below 7e-9 on the range, well under float32's ulp), which
 * turns each function into a single division:
 *
 *   σ:    with 2^−t = 2^m·2^g (m = round(−t)), P = E + O(g), Q = E − O(g):
 *         σ = Q / (Q + 2^m·P)
 *   tanh: for a = |t| (odd symmetry; the sign is put back with one xor),
 *         2^a = 2^n·P/Q, tanh = (2^n·P − Q)/(2^n·P + Q)
 *             = (u·P' + O') / (u·P' + E')  with u = (2^n − 1)/2,
 *         E' = 2E, O' = 2O, P' = E' + O'. For n = 0 (|x| < ~0.17) u is 0 and
 *         the quotient is O'/E' with no cancellation, so tanh stays accurate
 *         relative to its (tiny) value; 2^n/2 comes straight from the shift
 *         with the exponent bias 126 instead of 127.
 *
 * Operation count (per 4 lanes): σ 9 multiply-class + 5 add-class operations,
 * tanh 9 + 8 (the add-class ones, incl. abs/xor, also run on the x64 port the
 * matrix product leaves idle); the e-based expm1 version this replaced needed
 * 14 + 2 and 14 + 3. Max relative errors measured on dense grids (see
 * test/activations.test.ts), with and without fused multiply-add: σ 1.67e-7,
 * tanh 2.31e-7 (the expm1 version: 1.39e-7 and 1.67e-7); the extra roundings
 * of the one-division form are what tanh gives up.
 * Lanes never interact, so a value's result does not depend on its lane.
 */

const LOG2E = 1.4426950408889634;
const LN2 = Math.LN2;
/** What the kernel multiplies σ's argument by before calling {@link emitSigmoid}. */
export const SIGMOID_INPUT_SCALE = LOG2E;
/** What the kernel multiplies tanh's argument by before calling {@link emitTanh}. */
export const TANH_INPUT_SCALE = 2 * LOG2E;
/** 1.5·2^23 + 127: rounds to an integer and carries the exponent bias. */
const ROUND_BIAS_127 = 12582912 + 127;
/** 1.5·2^23 + 126: the same, for 2^n / 2. */
const ROUND_BIAS_126 = 12582912 + 126;
/** σ: t in [−126, 126] keeps 2^−t a normal float and 2^−t·P finite. */
const SIGMOID_T_LIMIT = 126;
/** tanh rounds to ±1 in float32 beyond |x| ≈ 9.01, i.e. |t| ≈ 26; clamping keeps 2^n finite. */
const TANH_T_LIMIT = 29;
/** Padé coefficients in f (r = f·ln2). */
const E2 = (LN2 * LN2) / 10;
const O1 = LN2 / 2;
const O3 = (LN2 * LN2 * LN2) / 120;

const FLOAT_CONSTANTS = [
  ...new Set([
    ROUND_BIAS_127,
    ROUND_BIAS_126,
    SIGMOID_T_LIMIT,
    -SIGMOID_T_LIMIT,
    TANH_T_LIMIT,
    TANH_INPUT_SCALE,
    // σ works on g = −f: O(g) = −O(f), so its odd coefficients are negated.
    E2,
    -O1,
    -O3,
    // tanh's E' = 2E and O' = 2O.
    2 * E2,
    2 * O1,
    2 * O3,
    0.5,
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

/** Clamps the value on the stack; pmax/pmin operand order lets NaN pass through. */
function emitClamp(f: FunctionBuilder, s: ActivationScratch, lo: number, hi: number): void {
  emitConstant(f, s, lo);
  f.f32x4Pmax(); // v < lo ? lo : v
  emitConstant(f, s, hi);
  f.f32x4Pmin(); // hi < v ? hi : v
}

/**
 * From f (|f| <= 1/2) in s.h: leaves E·e in s.q and O·o in s.h, where e and o
 * scale the even and odd Padé parts ((e, o) = (1, −1) for σ, (2, 2) for tanh).
 */
function emitPade(f: FunctionBuilder, s: ActivationScratch, e: number, o: number): void {
  const cst = (v: number): Emit => () => emitConstant(f, s, v);
  const get = (i: number): Emit => () => f.get(i);
  f.get(s.h);
  f.get(s.h);
  f.f32x4Mul();
  f.set(s.n); // f²
  f.madd(get(s.n), cst(e * E2), cst(e));
  f.set(s.q); // e·E
  f.madd(get(s.n), cst(o * O3), cst(o * O1));
  f.get(s.h);
  f.f32x4Mul();
  f.set(s.h); // o·O
}

/** Pushes 2^(n + bias − 127) from s.k, the rounded value carrying n + bias in its low bits. */
function emitScale(f: FunctionBuilder, s: ActivationScratch): void {
  f.get(s.k);
  f.i32(23);
  f.i32x4Shl();
}

/** σ(t / log2 e) = 1 / (1 + 2^−t) for t produced by `t`, left on the stack. */
export function emitSigmoid(f: FunctionBuilder, s: ActivationScratch, t: Emit): void {
  t();
  emitClamp(f, s, -SIGMOID_T_LIMIT, SIGMOID_T_LIMIT);
  f.set(s.h); // t
  emitConstant(f, s, ROUND_BIAS_127);
  f.get(s.h);
  f.f32x4Sub();
  f.tee(s.k); // 1.5·2^23 + 127 + m with m = round(−t), exact
  emitConstant(f, s, ROUND_BIAS_127);
  f.f32x4Sub();
  f.get(s.h);
  f.f32x4Add();
  f.set(s.h); // w = t + m, exact; 2^−t = 2^m·2^g with g = −w, |g| <= 1/2
  emitPade(f, s, 1, -1); // s.q = E, s.h = −O(w) = O(g)
  f.get(s.q);
  f.get(s.h);
  f.f32x4Sub();
  f.tee(s.n); // Q = E − O(g)
  f.madd(
    () => emitScale(f, s),
    () => {
      f.get(s.q);
      f.get(s.h);
      f.f32x4Add(); // P = E + O(g)
    },
    () => f.get(s.n),
  );
  f.f32x4Div(); // Q / (Q + 2^m·P)
}

/** tanh(t / (2·log2 e)) = (2^t − 1) / (2^t + 1) for t produced by `t`, left on the stack. */
export function emitTanh(f: FunctionBuilder, s: ActivationScratch, t: Emit): void {
  t();
  f.tee(s.scale); // t, for its sign
  f.f32x4Abs();
  emitConstant(f, s, TANH_T_LIMIT);
  f.f32x4Pmin(); // a = min(|t|, limit); NaN passes
  f.tee(s.h);
  emitConstant(f, s, ROUND_BIAS_126);
  f.f32x4Add();
  f.tee(s.k); // 1.5·2^23 + 126 + n, n = round(a) >= 0
  emitConstant(f, s, ROUND_BIAS_126);
  f.f32x4Sub();
  f.set(s.n);
  f.get(s.h);
  f.get(s.n);
  f.f32x4Sub();
  f.set(s.h); // f = a − n, exact
  f.get(s.scale);
  f.get(s.scale);
  f.f32x4Abs();
  f.v128Xor();
  f.set(s.scale); // sign bit of t
  emitPade(f, s, 2, 2); // s.q = E', s.h = O'
  emitScale(f, s);
  emitConstant(f, s, 0.5);
  f.f32x4Sub();
  f.set(s.n); // u = 2^n/2 − 1/2
  f.get(s.q);
  f.get(s.h);
  f.f32x4Add();
  f.set(s.k); // P' = E' + O'
  f.madd(
    () => f.get(s.n),
    () => f.get(s.k),
    () => f.get(s.h),
  );
  f.madd(
    () => f.get(s.n),
    () => f.get(s.k),
    () => f.get(s.q),
  );
  f.f32x4Div(); // (u·P' + O') / (u·P' + E') >= 0
  f.get(s.scale);
  f.v128Xor();
}
