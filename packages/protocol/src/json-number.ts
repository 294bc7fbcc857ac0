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
 * Both are on the worker's hot path (a dozen numbers per event): they build
 * the digits from a table instead of calling String(), which is slower for
 * doubles and keeps every result alive in V8's number-to-string cache long
 * enough to reach the old generation.
 */

/** 10^0 .. 10^22: exactly representable as doubles. */
const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);
/** "00" .. "99". */
const PAIRS: readonly string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : `${i}`));
/** "0" .. "99". */
const SHORT: readonly string[] = Array.from({ length: 100 }, (_, i) => `${i}`);

/** The decimal digits of a non-negative safe integer. */
function digitsOf(n: number): string {
  if (n < 100) return SHORT[n]!;
  let s = '';
  while (n >= 100) {
    const q = Math.floor(n / 100);
    s = PAIRS[n - q * 100]! + s;
    n = q;
  }
  return SHORT[n]! + s;
}

/** `a` times 10^s: one rounding when the power is exact. */
function scaleUp(a: number, s: number): number {
  if (s >= 0) return s <= 22 ? a * POW10[s]! : a * 10 ** s;
  return -s <= 22 ? a / POW10[-s]! : a / 10 ** -s;
}

/**
 * The JavaScript number-to-string form of the decimal `digits` x 10^exp10,
 * where `digits` has no trailing zero (ECMAScript Number::toString).
 */
function layout(digits: string, exp10: number): string {
  const k = digits.length;
  const n = k + exp10;
  if (k <= n && n <= 21) return exp10 === 0 ? digits : digits + '0'.repeat(exp10);
  if (0 < n && n <= 21) return `${digits.slice(0, n)}.${digits.slice(n)}`;
  if (-6 < n && n <= 0) return `0.${'0'.repeat(-n)}${digits}`;
  const e = n - 1;
  const mantissa = k === 1 ? digits : `${digits[0]!}.${digits.slice(1)}`;
  return `${mantissa}e${e >= 0 ? '+' : '-'}${digitsOf(Math.abs(e))}`;
}

/**
 * `v` rounded to float32 and written as the shortest decimal that reads back
 * to that float32; `null` for NaN and infinities (as JSON.stringify writes
 * them), `0` for both zeros.
 */
export function float32Json(v: number): string {
  const f = Math.fround(v);
  if (f === 0) return '0';
  if (!Number.isFinite(f)) return 'null';
  const negative = f < 0;
  const a = negative ? -f : f;
  // A first guess of the decimal exponent; being one off only costs an iteration.
  const e = Math.floor(Math.log10(a));
  // More fraction digits each round: the first that reads back is the shortest.
  for (let s = -e - 1; s <= -e + 9; s++) {
    const d = Math.round(scaleUp(a, s));
    if (d === 0) continue;
    // d / 10^s, rounded once: what JSON.parse makes of the text when the power is exact.
    const back = s >= 0 ? (s <= 22 ? d / POW10[s]! : d / 10 ** s) : -s <= 22 ? d * POW10[-s]! : d * 10 ** -s;
    if (Math.fround(back) !== a) continue;
    let m = d;
    let exp10 = -s;
    while (m % 10 === 0) {
      m /= 10;
      exp10 += 1;
    }
    const text = layout(digitsOf(m), exp10);
    // With an inexact power (values beyond 1e22 or below 1e-22) check what a reader really gets.
    if ((s > 22 || s < -22) && Math.fround(Number(text)) !== a) continue;
    return negative ? `-${text}` : text;
  }
  // Not reached for float32 values; the exact double text always reads back.
  return String(f);
}

/** `v` rounded to float32 and back to the double its {@link float32Json} text parses to (NaN for non-finite). */
export function float32Number(v: number): number {
  return Number(float32Json(v));
}

/** A number as JSON.stringify writes it, without String() for safe integers. */
export function numberJson(v: number): string {
  if (Number.isSafeInteger(v)) return v < 0 ? `-${digitsOf(-v)}` : digitsOf(v);
  return Number.isFinite(v) ? String(v) : 'null';
}
