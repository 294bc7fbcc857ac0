import { describe, expect, it } from 'vitest';
import { seededRandom } from '@streamcell/rnn';
import { EventScanner, decodeEvent, readFeatureValues } from '../src/index.ts';

const MAX = 1024;
const FALLBACK_TS = 42;
const FEATURES = ['temp', 'humidity', 'wind'];
const scanner = new EventScanner();

type Outcome =
  | { path: 'fast' | 'slow'; ok: true; stream: string; ts: number; model: string | undefined; reset: boolean; end: boolean; row: number[] }
  | { path: 'slow'; ok: false; code: string };

/**
 * What the worker does with one message: the scanner first, decodeEvent and
 * readFeatureValues when it says no. A fast answer must be the slow one.
 */
function read(value: Buffer, key: Buffer | null, features: readonly string[] = FEATURES): Outcome {
  const slow = decodeEvent(value, key, { maxEventBytes: MAX, fallbackTs: FALLBACK_TS });
  let slowOutcome: Outcome;
  if (!slow.ok) slowOutcome = { path: 'slow', ok: false, code: slow.code };
  else {
    const row = new Float64Array(features.length);
    const bad = readFeatureValues(slow.event.values, features, row);
    const e = slow.event;
    slowOutcome = bad
      ? { path: 'slow', ok: false, code: bad.code }
      : { path: 'slow', ok: true, stream: e.stream, ts: e.ts, model: e.model, reset: e.reset, end: e.end, row: [...row] };
  }
  const row = new Float64Array(features.length).fill(Number.NaN);
  if (!scanner.scan(value, key, MAX, FALLBACK_TS) || !scanner.readInto(features, row)) return slowOutcome;
  const fast: Outcome = { path: 'fast', ok: true, stream: scanner.stream, ts: scanner.ts, model: scanner.model, reset: scanner.reset, end: scanner.end, row: [...row] };
  // The fast path answers only for valid events, and exactly as the definition does (-0 included).
  if (!slowOutcome.ok) throw new Error(`fast path accepted ${JSON.stringify(value.toString('latin1'))}, which is ${slowOutcome.code}`);
  const same =
    fast.stream === slowOutcome.stream &&
    Object.is(fast.ts, slowOutcome.ts) &&
    fast.model === slowOutcome.model &&
    fast.reset === slowOutcome.reset &&
    fast.end === slowOutcome.end &&
    fast.row.every((v, i) => Object.is(v, slowOutcome.row[i]));
  if (!same) throw new Error(`fast path differs on ${JSON.stringify(value.toString('latin1'))}: ${JSON.stringify(fast)} vs ${JSON.stringify(slowOutcome)}`);
  return fast;
}

const text = (s: string, key: string | null = null): Outcome => read(Buffer.from(s, 'latin1'), key === null ? null : Buffer.from(key, 'latin1'));

describe('EventScanner', () => {
  it('reads the common shapes on the fast path, with the same result as decodeEvent', () => {
    const fast = [
      '{"stream":"sensor-42","ts":1764219600000,"values":{"temp":21.5,"humidity":40.2,"wind":3}}',
      '{"stream":"s1","ts":1764219600000,"values":[21.5,40.2,3]}',
      '{"values":[1,2,3]}',
      ' \t\r\n{ "values" : [ 1 , -2 , 3e2 ] , "stream" : "a b" } \n',
      '{"stream":"s","ts":"2025-11-27T05:00:00Z","values":[1,2,3],"model":"m-1","reset":true,"end":false}',
      '{"stream":"s","ts":"2025-11-27","values":{"wind":0,"temp":-0,"humidity":-0.0}}',
      '{"stream":"s","ts":0,"values":[1,2,3],"reset":false,"end":true}',
      '{"stream":"s","ts":-0,"values":[1,2,3]}',
      '{"stream":"quote\'s ~ {}[]","values":[0.1,0.2,0.30000000000000004]}',
      '{"stream":"s","values":[123456789012345678901234567890,1e-30,4.9e-324]}',
      '{"stream":"s","values":[1.7976931348623157e308,2.2250738585072014e-308,9007199254740993]}',
      // A producer's own fields, of every JSON kind, are passed over.
      '{"stream":"s","meta":{"site":"north","tags":["a",1,-2.5e-3,true,false,null,{}],"deep":[[[]]]},"values":[1,2,3],"n":1e999,"x":""}',
      '{"stream":"s","values":[1,2,3],"note":"caf\u00e9 \u00ff \u0080 bytes of any kind"}', // as latin1: bytes 0x80 and above
      '{"stream":"s","values":[1,2,3],"values2":[1],"stream ":"t","Stream":7,"st":null}',
    ];
    for (const s of fast) expect(text(s, s.includes('"stream"') ? null : 'k').path, s).toBe('fast');
    expect(text('{"values":[1,2,3]}', 'key-1')).toMatchObject({ path: 'fast', stream: 'key-1', ts: FALLBACK_TS });
    expect(text('{"stream":"same","values":[1,2,3]}', 'same')).toMatchObject({ path: 'fast', stream: 'same' });
    expect(text('{"stream":"s","values":{"wind":3,"temp":1,"humidity":2}}')).toMatchObject({ row: [1, 2, 3] });
    expect(text('{"stream":"s","ts":-0,"values":[1,2,3]}')).toMatchObject({ ts: -0 });
  });

  it('leaves everything outside its subset, and every invalid event, to decodeEvent', () => {
    const slow: [string, string | null][] = [
      ['{"stream":"s\\u0041","values":[1,2,3]}', null], // an escape
      ['{"stream":"s\u00e9","values":[1,2,3]}', null], // a non-ASCII byte
      ['{"stream":"s","values":[1,2,3],"meta":"a\\"b"}', null], // an escape in a producer's own field
      ['{"str\\u0065am":"t","stream":"s","values":[1,2,3]}', null], // an escape in a name
      ['{"stream":"s","values":[1,2,3],"meta":"a\u0001b"}', null], // a control character
      ['{"stream":"s","values":[1,2,3],"meta":[1,]}', null],
      ['{"stream":"s","values":[1,2,3],"meta":{"a"}}', null],
      ['{"stream":"s","values":[1,2,3],"meta":nul}', null],
      ['{"stream":"s","values":[1,2,3],"meta":-}', null],
      [`{"stream":"s","values":[1,2,3],"meta":${'['.repeat(40)}${']'.repeat(40)}}`, null], // deeper than the scanner goes
      ['{"stream":"s","stream":"t","values":[1,2,3]}', null], // a field twice
      ['{"stream":"s","values":[1,2,3],}', null],
      ['{"stream":"s","values":[1,2,3]} x', null],
      ['{"stream":"s","values":[1,2,3]}{}', null],
      ['{"stream":"s","values":[1,2,3', null],
      ['{"stream":"s","values":[1,2,3]', null],
      ['{"stream":"s","values":[1,2,null]}', null],
      ['{"stream":"s","values":[1,2,1e999]}', null],
      ['{"stream":"s","values":[1,2,01]}', null],
      ['{"stream":"s","values":[1,2,.5]}', null],
      ['{"stream":"s","values":[1,2,+5]}', null],
      ['{"stream":"s","values":[1,2,5.]}', null],
      ['{"stream":"s","values":[1,2,5e]}', null],
      ['{"stream":"s","values":[1,2,"3"]}', null],
      ['{"stream":"s","values":[1,2]}', null],
      ['{"stream":"s","values":[1,2,3,4]}', null],
      ['{"stream":"s","values":{"temp":1,"humidity":2}}', null],
      ['{"stream":"s","values":{"temp":1,"humidity":2,"temp":3}}', null],
      ['{"stream":"s","values":{"temp":1,"humidity":2,"rain":3}}', null],
      ['{"stream":"s","values":1}', null],
      ['{"stream":"s"}', null],
      ['{}', 'k'],
      ['[]', 'k'],
      ['', 'k'],
      ['{"stream":"","values":[1,2,3]}', null],
      [`{"stream":"${'x'.repeat(257)}","values":[1,2,3]}`, null],
      ['{"stream":"s\u0001","values":[1,2,3]}', null],
      ['{"stream":7,"values":[1,2,3]}', null],
      ['{"stream":"s","values":[1,2,3]}', 't'],
      ['{"values":[1,2,3]}', null],
      ['{"values":[1,2,3]}', 'k\u0007'],
      ['{"stream":"s","ts":-1,"values":[1,2,3]}', null],
      ['{"stream":"s","ts":1e999,"values":[1,2,3]}', null],
      ['{"stream":"s","ts":"yesterday","values":[1,2,3]}', null],
      ['{"stream":"s","ts":null,"values":[1,2,3]}', null],
      ['{"stream":"s","model":"","values":[1,2,3]}', null],
      ['{"stream":"s","model":null,"values":[1,2,3]}', null],
      ['{"stream":"s","reset":1,"values":[1,2,3]}', null],
      ['{"stream":"s","end":"true","values":[1,2,3]}', null],
      ['{"stream":"s","end":truex,"values":[1,2,3]}', null],
      ['\ufeff{"stream":"s","values":[1,2,3]}', null],
    ];
    for (const [s, key] of slow) expect(text(s, key).path, s).toBe('slow');
    // And the dead letters keep their codes (from the one definition).
    expect(text('{"stream":"s","values":[1,2,null]}')).toMatchObject({ ok: false, code: 'non_finite' });
    expect(text('{"stream":"s","values":{"temp":1,"humidity":2,"rain":3}}')).toMatchObject({ ok: false, code: 'unknown_feature' });
    expect(text(`{"stream":"s","values":[1,2,3],"pad":"${'x'.repeat(MAX)}"}`)).toMatchObject({ ok: false, code: 'too_large' });
  });

  it('reads numbers exactly as JSON.parse does', () => {
    const next = seededRandom(7);
    const features = ['a'];
    let fastCount = 0;
    const check = (num: string): void => {
      const r = read(Buffer.from(`{"stream":"s","values":[${num}]}`), null, features);
      if (r.path === 'fast') fastCount += 1;
      // Every valid JSON number below 1e308 is a finite value, read on the fast path.
      expect(r.path, num).toBe('fast');
    };
    const bits = new Float64Array(1);
    const words = new Uint32Array(bits.buffer);
    for (let i = 0; i < 20_000; i++) {
      // Doubles across the whole range, as JSON.stringify writes them.
      words[0] = (next() * 2 ** 32) >>> 0;
      words[1] = (next() * 2 ** 32) >>> 0;
      if (Number.isFinite(bits[0]!)) check(JSON.stringify(bits[0]));
      // Decimals of 1-20 digits with a point and an exponent anywhere.
      const len = 1 + Math.floor(next() * 20);
      let digits = String(1 + Math.floor(next() * 9));
      for (let k = 1; k < len; k++) digits += String(Math.floor(next() * 10));
      const point = Math.floor(next() * (len + 1));
      const intPart = digits.slice(0, point) || '0';
      const frac = digits.slice(point);
      const lead = next() < 0.2 ? '0'.repeat(Math.floor(next() * 6)) : '';
      const mantissa = frac.length > 0 ? `${intPart}.${lead}${frac}` : intPart;
      const exp = next() < 0.5 ? '' : `${next() < 0.5 ? 'e' : 'E'}${['', '+', '-'][Math.floor(next() * 3)]}${Math.floor(next() * 40)}`;
      check(`${next() < 0.3 ? '-' : ''}${mantissa}${exp}`);
    }
    expect(fastCount).toBeGreaterThan(30_000);
  });

  it('never answers where decodeEvent would not, under random damage to valid events', () => {
    const next = seededRandom(11);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    const alphabet = [...'"{}[],:.-+eE0123456789 \t\n\\/abtrufalsenmodelstreamvaluesresetts_x', '\u0000', '\u00e9', '\u0080', '\u00ff'];
    const bases = [
      { stream: 's-1', ts: 1764219600000, values: [21.5, -40.25, 0.001] },
      { stream: 's-2', ts: '2025-11-27T05:00:00.5+01:00', values: { wind: 3, temp: 1e-7, humidity: 2e21 }, model: 'm', reset: true },
      { values: [1, 2, 3], end: true },
      { stream: 'k', values: { temp: 0, humidity: -0, wind: 123456789.125 }, end: false, reset: false, model: 'other' },
    ];
    let fast = 0;
    let accepted = 0;
    for (let i = 0; i < 30_000; i++) {
      const base = pick(bases);
      const chars = [...JSON.stringify(base)];
      const edits = 1 + Math.floor(next() * 3);
      for (let k = 0; k < edits; k++) {
        const at = Math.floor(next() * chars.length);
        const r = next();
        if (r < 0.4) chars[at] = pick(alphabet);
        else if (r < 0.7) chars.splice(at, 1);
        else chars.splice(at, 0, pick(alphabet));
      }
      const key = 'stream' in base ? (next() < 0.5 ? null : String(base.stream)) : pick(['k', '', 'k\u0001', null]);
      const out = read(Buffer.from(chars.join(''), 'latin1'), key === null ? null : Buffer.from(key, 'latin1'));
      if (out.path === 'fast') fast += 1;
      if (out.ok) accepted += 1;
    }
    // The damage leaves many events valid (a digit for a digit, a space added), and the fast path takes most of those.
    expect(accepted).toBeGreaterThan(2_000);
    expect(fast).toBeGreaterThan(accepted / 2);
  });

  it('matches names as decodeEvent does, prototype names and repeated features included', () => {
    const proto = ['__proto__', 'constructor', 'toString'];
    const named = (values: string, features: readonly string[]): Outcome => read(Buffer.from(`{"stream":"s","values":{${values}}}`), null, features);
    // JSON.parse makes these own properties: read like any other name.
    expect(named('"toString":1,"__proto__":2,"constructor":3', proto)).toMatchObject({ path: 'fast', row: [2, 3, 1] });
    // A missing feature named like a prototype property: decodeEvent's answer, whatever it is.
    expect(named('"__proto__":2,"toString":1', proto).path).toBe('slow');
    expect(named('"__proto__":2,"toString":1,"x":3', proto)).toMatchObject({ path: 'slow', ok: false });
    // A model naming one feature twice, or a feature outside ASCII: left to readFeatureValues.
    expect(named('"a":1', ['a', 'a'])).toMatchObject({ path: 'slow', ok: true, row: [1, 1] });
    expect(read(Buffer.from('{"stream":"s","values":[1,2]}'), null, ['a', 'a'])).toMatchObject({ path: 'fast', row: [1, 2] });
    expect(named('"caf\u00e9":1', ['caf\u00e9']).path).toBe('slow');
  });

  it('reads a value and a key that are views into larger arrays, not Buffers', () => {
    const text = new TextEncoder().encode('xx{"values":[1,2,3],"ts":7}yy');
    const value = new Uint8Array(text.buffer, 2, text.length - 4);
    const keyBytes = new TextEncoder().encode('--key-9--');
    const key = new Uint8Array(keyBytes.buffer, 2, 5);
    expect(scanner.scan(value, key, MAX, FALLBACK_TS)).toBe(true);
    expect(scanner.stream).toBe('key-9');
    expect(scanner.ts).toBe(7);
    const row = new Float64Array(3);
    expect(scanner.readInto(FEATURES, row)).toBe(true);
    expect([...row]).toEqual([1, 2, 3]);
    // The bytes around the view are not read: the same text with its neighbours fails.
    expect(scanner.scan(text, key, MAX, FALLBACK_TS)).toBe(false);
  });

  it('keeps nothing of an earlier event', () => {
    expect(text('{"stream":"a","ts":5,"values":[1,2,3],"model":"m","reset":true,"end":true}')).toMatchObject({ path: 'fast', model: 'm', reset: true, end: true, ts: 5 });
    expect(text('{"stream":"b","values":[4,5,6]}')).toMatchObject({ path: 'fast', stream: 'b', model: undefined, reset: false, end: false, ts: FALLBACK_TS, row: [4, 5, 6] });
    // Room for more values than the first event had.
    const many = Array.from({ length: 40 }, (_, i) => `f${i}`);
    const r = read(Buffer.from(JSON.stringify({ stream: 's', values: Object.fromEntries(many.map((f, i) => [f, i])) })), null, many);
    expect(r).toMatchObject({ path: 'fast', row: many.map((_, i) => i) });
  });
});
