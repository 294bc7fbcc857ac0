import { describe, expect, it } from 'vitest';
import { MAX_NUMBER_JSON_BYTES, float32Json, float32Number, writeFloat32Json, writeNumberJson } from '../src/index.ts';

/** What a byte writer wrote for `v`, as text. */
function written(write: (out: Uint8Array, at: number, v: number) => number, v: number): string {
  const out = new Uint8Array(3 + MAX_NUMBER_JSON_BYTES).fill(120);
  const end = write(out, 3, v);
  expect(out.subarray(0, 3)).toEqual(new Uint8Array([120, 120, 120]));
  expect(end - 3).toBeLessThanOrEqual(MAX_NUMBER_JSON_BYTES);
  return Buffer.from(out.subarray(3, end)).toString('latin1');
}

/** Deterministic 32-bit words (xorshift32). */
function words(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Whether a decimal text reads back to float32 `f`. */
const readsBack = (text: string, f: number): boolean => Math.fround(Number(text)) === f;

describe('float32Json', () => {
  it('writes common values as people would', () => {
    const cases: [number, string][] = [
      [Math.fround(21.6), '21.6'],
      [Math.fround(0.1), '0.1'],
      [-Math.fround(3.3), '-3.3'],
      [1, '1'],
      [100, '100'],
      [123456, '123456'],
      [Math.fround(1e-7), '1e-7'],
      [Math.fround(0.000001), '0.000001'],
      [Math.fround(1.5e-7), '1.5e-7'],
      [Math.fround(1e21), '1e+21'],
      [Math.fround(1e20), '100000000000000000000'],
      [Math.fround(1.25e25), '1.25e+25'],
      [3.4028234663852886e38, '3.4028235e+38'],
      [1.401298464324817e-45, '1e-45'],
      [Math.fround(16777217), '16777216'],
    ];
    for (const [v, text] of cases) {
      expect(float32Json(v), String(v)).toBe(text);
      expect(written(writeFloat32Json, v), String(v)).toBe(text);
      expect(written(writeFloat32Json, -v), String(-v)).toBe(text.startsWith('-') ? text.slice(1) : `-${text}`);
    }
  });

  it('writes zeros as 0 and non-finite numbers as null, as JSON.stringify does', () => {
    expect([0, -0, NaN, Infinity, -Infinity, 1e39, 1e-50].map(float32Json)).toEqual(['0', '0', 'null', 'null', 'null', 'null', '0']);
    expect([0, -0, NaN, Infinity, -Infinity, 1e39, 1e-50].map((v) => written(writeFloat32Json, v))).toEqual(['0', '0', 'null', 'null', 'null', 'null', '0']);
  });

  it('rounds a double to float32 first', () => {
    expect(float32Json(0.1)).toBe('0.1');
    expect(float32Json(1 / 3)).toBe('0.33333334');
    expect(float32Number(1 / 3)).toBe(0.33333334);
  });

  it('for every kind of float32: reads back exactly, is the text JSON.stringify writes for what it parses to, and no shorter decimal reads back', () => {
    const next = words(20261127);
    const bits = new Uint32Array(1);
    const f32 = new Float32Array(bits.buffer);
    let checked = 0;
    for (let i = 0; i < 60_000; i++) {
      // Random bit patterns cover every exponent; a third are small-exponent values like real forecasts.
      bits[0] = i % 3 === 0 ? (next() & 0x807fffff) | ((112 + (next() % 32)) << 23) : next();
      const f = f32[0]!;
      if (!Number.isFinite(f) || f === 0) continue;
      checkShortest(f);
      checked++;
    }
    expect(checked).toBeGreaterThan(55_000);
  });

  it('is the nearest decimal of the fewest digits that reads back, at every power of two and of ten and their neighbours', () => {
    // The definition, slowly: each length in turn, from one digit up, its nearest decimal (toPrecision).
    // Near a power of two the rounding interval is lopsided and a decimal further away may be shorter
    // (see float32Json); the search must still land where this definition does.
    const reference = (f: number): string => {
      const a = Math.abs(f);
      for (let p = 1; p <= 9; p++) {
        const text = JSON.stringify(Number(a.toPrecision(p)));
        if (readsBack(text, a)) return f < 0 ? `-${text}` : text;
      }
      throw new Error(`no 9-digit decimal reads back to ${f}`);
    };
    const bits = new Uint32Array(1);
    const f32 = new Float32Array(bits.buffer);
    const around = (f: number): void => {
      f32[0] = f;
      const b = bits[0]!;
      for (const d of [-1, 0, 1]) {
        bits[0] = b + d;
        const g = f32[0] ?? 0;
        if (Number.isFinite(g) && g !== 0) {
          expect(float32Json(g), String(g)).toBe(reference(g));
          expect(written(writeFloat32Json, -g), String(-g)).toBe(reference(-g));
        }
      }
    };
    for (let e = -149; e <= 127; e++) around(2 ** e);
    for (let e = -45; e <= 38; e++) around(Math.fround(10 ** e));
    around(3.4028234663852886e38); // the largest float32
  });
});

/** The properties of float32Json's text for `f`, and that writeFloat32Json writes the same bytes. */
function checkShortest(f: number): void {
  const text = float32Json(f);
  expect(readsBack(text, f), `${f} -> ${text}`).toBe(true);
  expect(JSON.stringify(Number(text)), `${f} -> ${text}`).toBe(text);
  expect(written(writeFloat32Json, f), `${f} written as bytes`).toBe(text);
  const digits = text.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length;
  if (digits > 1) {
    // The decimals of one digit fewer nearest to f, and their neighbours: none may read back.
    const [mantissa, exponent] = Math.abs(f).toExponential(digits - 2).split('e');
    const unit = 10 ** (2 - digits);
    for (const delta of [-1, 0, 1]) {
      const candidate = `${(Number(mantissa) + delta * unit).toFixed(digits - 2)}e${exponent}`;
      expect(readsBack(f < 0 ? `-${candidate}` : candidate, f), `${f} -> ${text}, but ${candidate} is shorter`).toBe(false);
    }
  }
}

describe('writeNumberJson', () => {
  it('writes what JSON.stringify writes', () => {
    for (const v of [0, -0, 7, -7, 99, 100, 2 ** 31 - 1, 2 ** 31, 1764219600000, -1764219600000, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 1.5, -0.25, 1e21, 5e-324, NaN, Infinity, -Infinity]) {
      expect(written(writeNumberJson, v), String(v)).toBe(JSON.stringify(v));
    }
  });

  it('writes every width of integer, with the zeros inside it', () => {
    const next = words(7);
    const values: number[] = [];
    for (let k = 0; k <= 16; k++) {
      const p = 10 ** k;
      values.push(p, p - 1, p + 1, 2 * p, p * 10 - 1, p * 1001, p + 10 ** Math.max(0, k - 4));
      // Random ones of k + 1 digits.
      for (let i = 0; i < 50; i++) values.push(Math.min(Number.MAX_SAFE_INTEGER, Math.floor(p + ((next() * 2 ** 21 + next()) / 2 ** 53) * p * 9)));
    }
    for (const v of values) {
      if (!Number.isSafeInteger(v)) continue;
      expect(written(writeNumberJson, v), String(v)).toBe(JSON.stringify(v));
      expect(written(writeNumberJson, -v), String(-v)).toBe(JSON.stringify(-v));
    }
  });
});
