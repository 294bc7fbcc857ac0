/**
 * Numbers as forecast messages write them.
 *
 * The model computes in float32, so a forecast is a float32 value. Written
 * the way JSON.stringify writes the double it widens to, it reads
 * `21.600000381469727`: 17 digits, 9 of them noise. {@link float32Json}
 * writes the shortest decimal that reads back (JSON.parse, then
 * Math.fround) to the same float32: `21.6`. The text is also what
 * JSON.stringify writes for the double that decimal parses to, so a message
 * built as an object and serialised by JSON.stringify gives the same bytes
 * when its numbers went through {@link float32Number}.
 *
 * The worker writes a dozen numbers per event: {@link writeFloat32Json} and
 * {@link writeNumberJson} put them straight into a byte buffer, without
 * String(), which is slower for doubles and keeps every result alive in V8's
 * number-to-string cache long enough to reach the old generation.
 */

/** 10^0 .. 10^39: exact as doubles up to 10^22 (all the scaling uses), rounded past it. */
const POW10: readonly number[] = Array.from({ length: 40 }, (_, i) => 10 ** i);

/** `a` times 10^s: one rounding when the power is exact (|s| <= 22). */
function scaleUp(a: number, s: number): number {
  if (s >= 0) return s <= 22 ? a * POW10[s]! : a * 10 ** s;
  return -s <= 22 ? a / POW10[-s]! : a / 10 ** -s;
}

/** `d` times 10^-s: what JSON.parse makes of that decimal when the power is exact. */
function scaleDown(d: number, s: number): number {
  if (s >= 0) return s <= 22 ? d / POW10[s]! : d / 10 ** s;
  return -s <= 22 ? d * POW10[-s]! : d * 10 ** -s;
}

/** 10^0 .. 10^-45 as doubles (rounded), for {@link decimalExponent}. */
const NEG_POW10: readonly number[] = Array.from({ length: 46 }, (_, i) => 10 ** -i);

/**
 * floor(log10(a)) for a positive float32, or one more or one less near a
 * power of ten, where the powers below 1 are rounded: either only moves the
 * search below by one scale, within its margin. Comparisons, not the bits
 * of the float (reading them back through typed arrays cost more than the
 * search's trials).
 */
function decimalExponent(a: number): number {
  let e = 0;
  if (a >= 1) {
    while (e < 38 && a >= POW10[e + 1]!) e++;
    return e;
  }
  if (a < 1e-37) return Math.floor(Math.log10(a));
  do e--;
  while (a < NEG_POW10[-e]!);
  return e;
}

// What shortestDigits found (module state, not an object per number).
let foundDigits = 0;
let foundExp10 = 0;

/**
 * For a positive finite float32 `a`: the shortest decimal `foundDigits` x
 * 10^`foundExp10` (digits without trailing zeros) that reads back to `a`.
 * Returns false when the arithmetic was not exact (|scale| > 22, values
 * below about 1e-13 or above 1e22): then the caller checks the text itself.
 */
function shortestDigits(a: number): boolean {
  const e = decimalExponent(a);
  // Scales s (digits after the decimal point) from 0-1 significant digits to 9-10: the
  // largest always reads back (9 significant digits identify a float32). Reading back
  // is monotonic in s, so the shortest is where it starts to.
  let lo = -e - 1;
  let hi = -e + 9;
  let digits = 0;
  // Most float32 values of a model's output need 7 or 8 significant digits: the search
  // tries those two scales first, and bisects only what they leave open.
  const seven = -e + 6;
  let d = readsBackAt(a, seven);
  if (d !== 0) {
    hi = seven;
    digits = d;
    d = readsBackAt(a, seven - 1);
    if (d === 0) lo = seven;
    else {
      hi = seven - 1;
      digits = d;
    }
  } else {
    lo = seven + 1;
    d = readsBackAt(a, lo);
    if (d !== 0) {
      hi = lo;
      digits = d;
    }
  }
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    d = readsBackAt(a, mid);
    if (d !== 0) {
      hi = mid;
      digits = d;
    } else {
      lo = mid + 1;
    }
  }
  if (digits === 0) digits = Math.floor(scaleUp(a, hi) + 0.5);
  let exp10 = -hi;
  while (digits % 10 === 0) {
    digits /= 10;
    exp10 += 1;
  }
  foundDigits = digits;
  foundExp10 = exp10;
  return hi <= 22 && hi >= -22;
}

/** The integer nearest `a` x 10^s when that decimal reads back to `a`, else 0. */
function readsBackAt(a: number, s: number): number {
  const d = Math.floor(scaleUp(a, s) + 0.5);
  return d !== 0 && Math.fround(scaleDown(d, s)) === a ? d : 0;
}

/**
 * `v` rounded to float32 and written as the shortest decimal that reads back
 * to that float32; `null` for NaN and infinities (as JSON.stringify writes
 * them, and for doubles beyond float32's range), `0` for both zeros. Only
 * the nearest decimal of each length is tried, so for a few values just
 * below a power of two, where the float32's rounding interval is lopsided,
 * the text is one digit longer than the shortest (2^-96 gives
 * 1.26217745e-29 where 1.2621775e-29 also reads back).
 */
export function float32Json(v: number): string {
  const f = Math.fround(v);
  if (f === 0) return '0';
  if (!Number.isFinite(f)) return 'null';
  const negative = f < 0;
  const a = negative ? -f : f;
  const exact = shortestDigits(a);
  let text = textScratch.toString('latin1', 0, putLayout(textScratch, 0, foundDigits, foundExp10));
  // Inexact powers: what a reader gets is the judge; the exact double's text always reads back.
  if (!exact && Math.fround(Number(text)) !== a) text = String(a);
  return negative ? `-${text}` : text;
}

/** `v` rounded to float32 and back to the double its {@link float32Json} text parses to (NaN for non-finite). */
export function float32Number(v: number): number {
  return Number(float32Json(v));
}

// ---- into bytes -------------------------------------------------------------

/** Room {@link writeFloat32Json} and {@link writeNumberJson} may need for one number. */
export const MAX_NUMBER_JSON_BYTES = 32;

const ZERO = 48;
const DOT = 46;
/** Where float32Json lays its text out. */
const textScratch = Buffer.alloc(MAX_NUMBER_JSON_BYTES);

/** "00" to "99", two bytes each. */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, i) => ZERO + (i % 2 === 0 ? Math.floor(i / 20) : (i >> 1) % 10));

/** Writes `x` (below 10,000) as exactly four digits, leading zeros kept; returns the end. */
function put4(out: Uint8Array, at: number, x: number): number {
  // x / 100 as a multiply and a shift (exact for x < 10,000): no division in the chain.
  const hi = (x * 5243) >>> 19;
  const lo = (x - hi * 100) * 2;
  out[at] = DIGIT_PAIRS[hi * 2]!;
  out[at + 1] = DIGIT_PAIRS[hi * 2 + 1]!;
  out[at + 2] = DIGIT_PAIRS[lo]!;
  out[at + 3] = DIGIT_PAIRS[lo + 1]!;
  return at + 4;
}

/** Writes `x` (below 10,000) without leading zeros; returns the end. */
function putUpTo4(out: Uint8Array, at: number, x: number): number {
  if (x >= 1000) return put4(out, at, x);
  if (x >= 100) {
    const hi = (x * 5243) >>> 19;
    out[at] = ZERO + hi;
    const lo = (x - hi * 100) * 2;
    out[at + 1] = DIGIT_PAIRS[lo]!;
    out[at + 2] = DIGIT_PAIRS[lo + 1]!;
    return at + 3;
  }
  if (x >= 10) {
    out[at] = DIGIT_PAIRS[x * 2]!;
    out[at + 1] = DIGIT_PAIRS[x * 2 + 1]!;
    return at + 2;
  }
  out[at] = ZERO + x;
  return at + 1;
}

/** Writes `x` (below 10^8) without leading zeros; returns the end. */
function putUpTo8(out: Uint8Array, at: number, x: number): number {
  if (x < 10_000) return putUpTo4(out, at, x);
  const hi = (x / 10_000) | 0;
  return put4(out, putUpTo4(out, at, hi), x - hi * 10_000);
}

/** Writes a non-negative safe integer's digits at `at`; returns the end. */
function putDigits(out: Uint8Array, at: number, n: number): number {
  if (n < 1e8) return putUpTo8(out, at, n);
  // Up to 2^53: the digits above the last eight, then those eight in two blocks of four.
  const hi = Math.floor(n / 1e8);
  const rest = n - hi * 1e8;
  const mid = (rest / 10_000) | 0;
  return put4(out, put4(out, putDigits(out, at, hi), mid), rest - mid * 10_000);
}

/** Writes an ASCII string at `at`; returns the end. */
function putAscii(out: Uint8Array, at: number, s: string): number {
  for (let i = 0; i < s.length; i++) out[at++] = s.charCodeAt(i);
  return at;
}

/**
 * Writes the bytes of {@link float32Json}(v) at `at` (at least
 * {@link MAX_NUMBER_JSON_BYTES} free); returns the end.
 */
export function writeFloat32Json(out: Uint8Array, at: number, v: number): number {
  const f = Math.fround(v);
  if (f === 0) {
    out[at] = ZERO;
    return at + 1;
  }
  if (!Number.isFinite(f)) return putAscii(out, at, 'null');
  const negative = f < 0;
  const a = negative ? -f : f;
  if (!shortestDigits(a)) return putAscii(out, at, float32Json(f));
  if (negative) out[at++] = 45; // '-'
  return putLayout(out, at, foundDigits, foundExp10);
}

/**
 * Writes the decimal `digits` x 10^exp10 (`digits` without a trailing zero)
 * as JavaScript writes numbers (ECMAScript Number::toString) at `at`;
 * returns the end.
 */
function putLayout(out: Uint8Array, at: number, digits: number, exp10: number): number {
  // k digits, the point after n of them.
  let k = 1;
  while (k < 22 && digits >= POW10[k]!) k++;
  const n = k + exp10;
  if (k <= n && n <= 21) {
    at = putDigits(out, at, digits);
    for (let i = 0; i < exp10; i++) out[at++] = ZERO;
    return at;
  }
  if (-6 < n && n <= 0) {
    out[at++] = ZERO;
    out[at++] = DOT;
    for (let i = 0; i < -n; i++) out[at++] = ZERO;
    return putDigits(out, at, digits);
  }
  // Digits with a point after the first `point` of them.
  const point = 0 < n && n <= 21 ? n : 1;
  const end = putDigits(out, at + 1, digits);
  for (let i = 0; i < point; i++) out[at + i] = out[at + i + 1]!;
  if (end - 1 - at > point) {
    out[at + point] = DOT;
    at = end;
  } else {
    at = end - 1;
  }
  if (point === n) return at;
  const exponent = n - 1;
  out[at++] = 101; // 'e'
  out[at++] = exponent >= 0 ? 43 : 45;
  return putDigits(out, at, Math.abs(exponent));
}

/** Writes the bytes of JSON.stringify(v) at `at` (at least {@link MAX_NUMBER_JSON_BYTES} free); returns the end. */
export function writeNumberJson(out: Uint8Array, at: number, v: number): number {
  if (Number.isSafeInteger(v)) {
    if (v < 0) {
      out[at++] = 45;
      return putDigits(out, at, -v);
    }
    return putDigits(out, at, v);
  }
  return putAscii(out, at, JSON.stringify(v));
}
