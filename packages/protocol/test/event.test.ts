import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_CODES, checkStreamId, decodeEvent, readFeatureValues, type DecodedEvent } from '../src/index.ts';

const opts = { maxEventBytes: 1024, fallbackTs: 42 };
const enc = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const key = (s: string): Buffer => Buffer.from(s);

function decoded(value: unknown, k: string | null = null): DecodedEvent {
  const r = decodeEvent(enc(value), k === null ? null : key(k), opts);
  if (!r.ok) throw new Error(`expected ok, got ${r.code}: ${r.message}`);
  return r.event;
}
function code(value: unknown, k: string | null = null, o = opts): string {
  const r = decodeEvent(value === null ? null : enc(value), k === null ? null : key(k), o);
  return r.ok ? 'ok' : r.code;
}

describe('decodeEvent', () => {
  it('reads the documented event with values by name and epoch-ms time', () => {
    const e = decoded({ stream: 'sensor-42', ts: 1764219600000, values: { temp: 21.5, humidity: 40.2 } }, 'sensor-42');
    expect(e).toEqual({ stream: 'sensor-42', ts: 1764219600000, values: { temp: 21.5, humidity: 40.2 }, model: undefined, reset: false, end: false });
  });

  it('takes the stream id from the key when the field is absent, and the Kafka time when ts is absent', () => {
    const e = decoded({ values: [1, 2] }, 'k-1');
    expect(e.stream).toBe('k-1');
    expect(e.ts).toBe(42);
  });

  it('parses ISO-8601 times and the optional model, reset and end', () => {
    const e = decoded({ stream: 's', ts: '2025-11-27T05:00:00Z', values: [1], model: 'm', reset: true, end: true });
    expect(e.ts).toBe(Date.UTC(2025, 10, 27, 5));
    expect([e.model, e.reset, e.end]).toEqual(['m', true, true]);
    expect(decoded({ stream: 's', ts: '2025-11-27', values: [1] }).ts).toBe(Date.UTC(2025, 10, 27));
  });

  it('ignores unknown top-level fields', () => {
    expect(decoded({ stream: 's', values: [1], unit: 'C' }).stream).toBe('s');
  });

  it.each([
    ['empty value', null, null, 'malformed_json'],
    ['not JSON', '{"stream":', null, 'malformed_json'],
    ['not an object', [1, 2], 's', 'schema'],
    ['values missing', { stream: 's' }, null, 'schema'],
    ['values a string', { stream: 's', values: '1,2' }, null, 'schema'],
    ['ts a loose date', { stream: 's', values: [1], ts: 'March 7' }, null, 'schema'],
    ['ts negative', { stream: 's', values: [1], ts: -5 }, null, 'schema'],
    ['ts boolean', { stream: 's', values: [1], ts: true }, null, 'schema'],
    ['stream a number', { stream: 7, values: [1] }, null, 'schema'],
    ['stream disagrees with key', { stream: 'a', values: [1] }, 'b', 'schema'],
    ['reset not boolean', { stream: 's', values: [1], reset: 'yes' }, null, 'schema'],
    ['model empty', { stream: 's', values: [1], model: '' }, null, 'schema'],
    ['no stream and no key', { values: [1] }, null, 'stream_id_invalid'],
    ['empty stream', { stream: '', values: [1] }, null, 'stream_id_invalid'],
    ['control character', { stream: 'a\u0007b', values: [1] }, null, 'stream_id_invalid'],
    ['C1 control character', { stream: 'a\u0085b', values: [1] }, null, 'stream_id_invalid'],
    ['257-byte stream', { stream: 'x'.repeat(257), values: [1] }, null, 'stream_id_invalid'],
  ])('rejects %s', (_name, value, k, expected) => {
    expect(code(value, k)).toBe(expected);
  });

  it('rejects events over the size limit as too_large before parsing them', () => {
    expect(code('x'.repeat(2000), null)).toBe('too_large');
    expect(code({ stream: 's', values: [1] }, null, { maxEventBytes: 10, fallbackTs: 0 })).toBe('too_large');
  });

  it('counts stream id length in UTF-8 bytes', () => {
    expect(checkStreamId('é'.repeat(128))).toBeUndefined(); // 256 bytes
    expect(checkStreamId('é'.repeat(129))?.code).toBe('stream_id_invalid');
    // Three-byte characters around the length below which the bytes are not counted.
    expect(checkStreamId('€'.repeat(85))).toBeUndefined(); // 255 bytes
    expect(checkStreamId('€'.repeat(86))?.code).toBe('stream_id_invalid'); // 258 bytes
    expect(checkStreamId('😀'.repeat(64))).toBeUndefined(); // 128 units, 256 bytes
    expect(checkStreamId('😀'.repeat(65))?.code).toBe('stream_id_invalid');
  });

  it('only ever returns codes from the dead-letter list', () => {
    const samples: unknown[] = ['', '[]', 'null', '{}', '{"values":{}}', '"x"', '{"stream":null,"values":[]}', '\u0000'];
    for (const s of samples) {
      const c = code(s, 'k');
      expect(c === 'ok' || (DEAD_LETTER_CODES as readonly string[]).includes(c)).toBe(true);
    }
  });
});

describe('readFeatureValues', () => {
  const features = ['temp', 'humidity', 'light'];
  const row = new Float64Array(3);

  it('orders values by feature name and accepts arrays in feature order', () => {
    expect(readFeatureValues({ light: 3, temp: 1, humidity: 2 }, features, row)).toBeUndefined();
    expect([...row]).toEqual([1, 2, 3]);
    expect(readFeatureValues([4, 5, 6], features, row)).toBeUndefined();
    expect([...row]).toEqual([4, 5, 6]);
  });

  it.each([
    ['too few array values', [1, 2], 'wrong_dimension'],
    ['too many array values', [1, 2, 3, 4], 'wrong_dimension'],
    ['a missing feature', { temp: 1, humidity: 2 }, 'wrong_dimension'],
    ['an unknown feature', { temp: 1, humidity: 2, light: 3, wind: 4 }, 'unknown_feature'],
    ['a null reading', [1, null, 3], 'non_finite'],
    ['an overflowing number', JSON.parse('[1, 1e999, 3]') as unknown[], 'non_finite'],
    ['a string reading', { temp: '1', humidity: 2, light: 3 }, 'schema'],
  ])('rejects %s', (_name, values, expected) => {
    expect(readFeatureValues(values as DecodedEvent['values'], features, row)?.code).toBe(expected);
  });
});
