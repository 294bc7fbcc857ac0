import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeGuard, encodeRecord, fnv1a32, guardOf, modelVersionHash, RECORD_HEADER_BYTES, type StateRecord } from '../src/index.ts';

function lstmRecord(layers: number, hidden: number, horizon: number, targets: number): StateRecord {
  const s = 2 * layers * hidden;
  return {
    modelHash: modelVersionHash('sensor-lstm', '3'),
    topicHash: fnv1a32('events'),
    partition: 11,
    offset: 2 ** 40 + 3,
    lastEventTs: 1764219600000,
    steps: 12345,
    state: Float32Array.from({ length: s }, (_, i) => Math.sin(i) * 1e-3),
    // The worker keeps the forecasts still pending, H(H+1)/2 x targets, and the last H actuals.
    scoring: Float32Array.from({ length: ((horizon * (horizon + 1)) / 2) * targets + horizon * targets }, (_, i) => i - 0.5),
    historyKnown: 2,
  };
}

describe('state record codec', () => {
  it('round-trips every field and every float bit for bit', () => {
    const r = lstmRecord(2, 64, 4, 2);
    const back = decodeRecord(encodeRecord(r));
    expect(back).toEqual(r);
  });

  it('reads the floats into arrays of the caller when their lengths match, at any byte alignment', () => {
    const r = lstmRecord(2, 64, 4, 2);
    for (const shift of [0, 1, 2, 3]) {
      // An unaligned copy of the bytes, as a reply buffer may be.
      const bytes = Buffer.concat([Buffer.alloc(shift), encodeRecord(r)]).subarray(shift);
      const block = new Float32Array(r.state.length + r.scoring.length + 8).fill(9);
      const into = { state: block.subarray(4, 4 + r.state.length), scoring: block.subarray(4 + r.state.length, 4 + r.state.length + r.scoring.length) };
      const back = decodeRecord(bytes, into);
      expect(back).toEqual(r);
      expect(typeof back !== 'string' && back.state === into.state && back.scoring === into.scoring).toBe(true);
      expect([...block.subarray(0, 4), ...block.subarray(block.length - 4)]).toEqual(new Array(8).fill(9));
    }
    const other = { state: new Float32Array(3).fill(7), scoring: new Float32Array(2).fill(7) };
    const back = decodeRecord(encodeRecord(r), other);
    expect(back).toEqual(r);
    expect([...other.state, ...other.scoring]).toEqual([7, 7, 7, 7, 7]);
  });

  it('stays within the size budget 2 x layers x hidden x 4 + horizon x outputSize x 4 + 64 for LSTM from horizon 3 on', () => {
    for (const [layers, hidden, horizon, targets] of [[1, 32, 3, 1], [2, 64, 4, 2], [3, 128, 12, 5]] as const) {
      const r = lstmRecord(layers, hidden, horizon, targets);
      const bytes = encodeRecord(r).length;
      expect(bytes).toBeLessThanOrEqual(2 * layers * hidden * 4 + horizon * (horizon * targets) * 4 + 64);
      expect(bytes).toBe(RECORD_HEADER_BYTES + 4 * (r.state.length + r.scoring.length));
    }
  });

  it('puts the guard of the applied event at bytes 8..23', () => {
    const r = lstmRecord(1, 4, 1, 1);
    const b = encodeRecord(r);
    expect(guardOf(b)).toEqual(encodeGuard('events', 11, 2 ** 40 + 3));
  });

  it('refuses bytes that are not a record, with a reason', () => {
    const good = encodeRecord(lstmRecord(1, 4, 2, 1));
    expect(decodeRecord(good.subarray(0, 10))).toMatch(/header/);
    expect(decodeRecord(Buffer.from('x'.repeat(80)))).toMatch(/not a streamcell/);
    expect(decodeRecord(good.subarray(0, good.length - 4))).toMatch(/describes/);
    const future = Buffer.from(good);
    future[2] = 9;
    expect(decodeRecord(future)).toMatch(/format 9/);
  });

  it('hashes with FNV-1a over UTF-8', () => {
    // Published FNV-1a 32-bit test vectors.
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });
});
