import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isStreamcellError } from '@streamcell/protocol';
import { MAX_HEADER_BYTES, decodeSafetensors, encodeSafetensors } from '../src/index.ts';
import type { TensorToWrite } from '../src/index.ts';
import { GOLDEN_DIR } from './helpers.ts';

/** A file with a hand-written header, for faults our writer would never produce. */
function rawFile(header: string, data: Uint8Array | number = 0, declaredLength?: bigint): Uint8Array {
  const headerBytes = new TextEncoder().encode(header);
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + headerBytes.length + body.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(body, 8 + headerBytes.length);
  return out;
}

function expectFault(bytes: Uint8Array, ...fragments: string[]): void {
  let caught: unknown;
  try {
    decodeSafetensors(bytes, 'w.safetensors');
  } catch (err) {
    caught = err;
  }
  expect(isStreamcellError(caught, 'model_weights_invalid'), `expected model_weights_invalid, got ${String(caught)}`).toBe(true);
  const message = (caught as Error).message;
  expect(message.startsWith('w.safetensors: ')).toBe(true);
  for (const fragment of fragments) expect(message).toContain(fragment);
}

const oneTensor = (entry: object, dataBytes: number) => rawFile(JSON.stringify({ t: entry }), dataBytes);

describe('safetensors round trip', () => {
  it('decodes what it encodes, bit for bit, in order, with metadata', () => {
    const tensors = new Map<string, TensorToWrite>([
      ['b', { shape: [2, 3], data: Float32Array.of(1, -0, 3.5, 1e-45, -3.4028234663852886e38, 0.1) }],
      ['__proto__', { shape: [1], data: Float32Array.of(7) }],
      ['scalar', { shape: [], data: Float32Array.of(42) }],
      ['empty', { shape: [0, 4], data: new Float32Array(0) }],
    ]);
    const bytes = encodeSafetensors(tensors, { source: 'test' });
    const { tensors: back, metadata } = decodeSafetensors(bytes, 'x');
    expect([...back.keys()]).toEqual(['b', '__proto__', 'scalar', 'empty']);
    expect(metadata).toEqual({ source: 'test' });
    for (const [name, t] of tensors) {
      const got = back.get(name)!;
      expect(got.dtype).toBe('F32');
      expect(got.shape).toEqual(t.shape);
      expect(new Uint8Array(got.data.buffer)).toEqual(new Uint8Array((t.data as Float32Array).buffer));
    }
  });

  it('pads the header to a multiple of 8 bytes so data starts aligned', () => {
    const bytes = encodeSafetensors(new Map([['abc', { shape: [1], data: Float32Array.of(1) }]]));
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    expect(bytes.length).toBe(8 + n + 4);
  });

  it('reads the PyTorch-written golden file', () => {
    const { tensors, metadata } = decodeSafetensors(readFileSync(join(GOLDEN_DIR, 'lstm-2x8', 'weights.safetensors')));
    expect(tensors.get('rnn.weight_ih_l0')?.shape).toEqual([32, 4]);
    expect(tensors.get('head.weight')?.shape).toEqual([4, 8]);
    expect(tensors.size).toBe(10);
    expect(metadata['source']).toMatch(/torch/);
  });

  it('decodes at an unaligned offset inside a larger buffer', () => {
    const bytes = encodeSafetensors(new Map([['x', { shape: [2], data: Float32Array.of(1.5, -2.25) }]]));
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    expect(Array.from(decodeSafetensors(shifted.subarray(3)).tensors.get('x')!.data)).toEqual([1.5, -2.25]);
  });
});

describe('safetensors dtypes', () => {
  it('converts every F16 bit pattern exactly (checked against Float16Array)', () => {
    const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const { tensors } = decodeSafetensors(encodeSafetensors(new Map([['h', { dtype: 'F16', shape: [65536], data: bits }]])));
    const got = tensors.get('h')!;
    expect(got.dtype).toBe('F16');
    const oracle = new Float16Array(bits.buffer);
    const wrong: string[] = [];
    for (let i = 0; i < 65536; i++) {
      const same = Number.isNaN(oracle[i]!) ? Number.isNaN(got.data[i]!) : Object.is(got.data[i], oracle[i]);
      if (!same) wrong.push(`0x${i.toString(16)}: ${got.data[i]} vs ${oracle[i]}`);
    }
    expect(wrong).toEqual([]);
    // Spot checks that do not depend on the oracle.
    expect(got.data[0x3c00]).toBe(1);
    expect(got.data[0xc000]).toBe(-2);
    expect(got.data[0x0001]).toBe(2 ** -24);
    expect(got.data[0x7bff]).toBe(65504);
    expect(got.data[0x7c00]).toBe(Infinity);
  });

  it('converts BF16 as the top half of a float32', () => {
    const bits = Uint16Array.of(0x3f80, 0xc040, 0x4049, 0x0000, 0x8000, 0x7f80, 0x0001);
    const { tensors } = decodeSafetensors(encodeSafetensors(new Map([['b', { dtype: 'BF16', shape: [7], data: bits }]])));
    const data = tensors.get('b')!.data;
    expect(Array.from(data.subarray(0, 4))).toEqual([1, -3, 3.140625, 0]);
    expect(Object.is(data[4], -0)).toBe(true);
    expect(data[5]).toBe(Infinity);
    expect(data[6]).toBe(2 ** -133);
  });

  it('rounds F64 to float32 (overflow becomes Infinity for the loader to refuse)', () => {
    const { tensors } = decodeSafetensors(
      encodeSafetensors(new Map([['d', { dtype: 'F64', shape: [3], data: Float64Array.of(1 / 3, -0.1, 1e300) }]])),
    );
    expect(Array.from(tensors.get('d')!.data)).toEqual([Math.fround(1 / 3), Math.fround(-0.1), Infinity]);
  });

  it('refuses integer, bool, 8-bit and unknown dtypes by name', () => {
    expectFault(oneTensor({ dtype: 'I64', shape: [1], data_offsets: [0, 8] }, 8), 'tensor "t"', 'unsupported dtype "I64"', 'F32, F64, F16 or BF16');
    expectFault(oneTensor({ dtype: 'BOOL', shape: [1], data_offsets: [0, 1] }, 1), 'unsupported dtype "BOOL"');
    expectFault(oneTensor({ dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] }, 1), 'unsupported dtype');
    expectFault(oneTensor({ dtype: 'F33', shape: [1], data_offsets: [0, 4] }, 4), 'unknown dtype "F33"');
    expectFault(oneTensor({ dtype: 7, shape: [1], data_offsets: [0, 4] }, 4), '"dtype" must be a string');
  });

  it('writer refuses data that does not match the dtype or shape', () => {
    const write = (t: TensorToWrite) => () => encodeSafetensors(new Map([['t', t]]));
    expect(write({ shape: [3], data: Float32Array.of(1, 2) })).toThrow(/holds 3 values, data has 2/);
    expect(write({ dtype: 'F16', shape: [1], data: Float32Array.of(1) as unknown as Uint16Array })).toThrow(/Uint16Array/);
    expect(() => encodeSafetensors(new Map([['__metadata__', { shape: [1], data: Float32Array.of(1) }]]))).toThrow(/reserved/);
  });
});

describe('safetensors faults', () => {
  it('refuses files too short for the length prefix', () => {
    expectFault(new Uint8Array(0), 'truncated', '0 bytes');
    expectFault(new Uint8Array(7), 'truncated');
  });

  it('refuses an absurd header length before allocating anything', () => {
    expectFault(rawFile('{}', 0, BigInt(MAX_HEADER_BYTES) + 1n), 'exceeds', 'limit');
    expectFault(rawFile('{}', 0, 0xffffffffffffffffn), 'exceeds');
  });

  it('refuses a header length that does not fit in the file', () => {
    expectFault(rawFile('{}', 0, 1000n), 'truncated', 'claims 1000 bytes', 'only 2 follow');
  });

  it('refuses invalid UTF-8 and invalid JSON headers', () => {
    const bad = rawFile('{"a":1}');
    bad[10] = 0xff;
    expectFault(bad, 'not valid UTF-8 JSON');
    expectFault(rawFile('{"t": {"dtype": "F32",'), 'not valid UTF-8 JSON');
    expectFault(rawFile(''), 'not valid UTF-8 JSON');
  });

  it('refuses headers that are not objects, and malformed entries', () => {
    expectFault(rawFile('[1,2]'), 'header must be a JSON object');
    expectFault(rawFile('null'), 'header must be a JSON object');
    expectFault(rawFile('{"t": 5}'), 'tensor "t"', 'must be an object');
    expectFault(rawFile('{"t": [1]}'), 'tensor "t"', 'must be an object');
    expectFault(rawFile('{"__metadata__": {"a": 1}}'), '"__metadata__" must be an object of string values');
  });

  it('refuses bad shapes', () => {
    expectFault(oneTensor({ dtype: 'F32', shape: [-1], data_offsets: [0, 4] }, 4), '"shape"');
    expectFault(oneTensor({ dtype: 'F32', shape: [1.5], data_offsets: [0, 4] }, 4), '"shape"');
    expectFault(oneTensor({ dtype: 'F32', shape: '4', data_offsets: [0, 4] }, 4), '"shape"');
    expectFault(oneTensor({ dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 4] }, 4), 'absurdly large');
  });

  it('refuses malformed or inconsistent data_offsets', () => {
    expectFault(oneTensor({ dtype: 'F32', shape: [1], data_offsets: [0] }, 4), '"data_offsets"');
    expectFault(oneTensor({ dtype: 'F32', shape: [1], data_offsets: [0, -4] }, 4), '"data_offsets"');
    expectFault(oneTensor({ dtype: 'F32', shape: [1], data_offsets: [8, 4] }, 8), 'end before they begin');
    expectFault(oneTensor({ dtype: 'F32', shape: [1], data_offsets: [0, 8] }, 8), 'span 8 bytes', 'needs 4');
    expectFault(oneTensor({ dtype: 'F32', shape: [2], data_offsets: [0, 8] }, 4), 'run past the end', '4 bytes');
  });

  it('refuses overlapping tensors, gaps and trailing bytes', () => {
    const entry = (begin: number) => ({ dtype: 'F32', shape: [1], data_offsets: [begin, begin + 4] });
    expectFault(rawFile(JSON.stringify({ a: entry(0), b: entry(0) }), 4), 'overlap');
    expectFault(rawFile(JSON.stringify({ a: entry(0), b: entry(2) }), 6), 'overlap');
    expectFault(rawFile(JSON.stringify({ a: entry(0), b: entry(8) }), 12), 'bytes 4..8', 'belong to no tensor');
    expectFault(rawFile(JSON.stringify({ a: entry(4) }), 8), 'bytes 0..4');
    expectFault(rawFile(JSON.stringify({ a: entry(0) }), 9), '5 trailing bytes');
  });

  it('refuses truncation of a valid file at any point', () => {
    const bytes = encodeSafetensors(new Map([['x', { shape: [3], data: Float32Array.of(1, 2, 3) }]]));
    for (let length = 0; length < bytes.length; length++) {
      expect(() => decodeSafetensors(bytes.subarray(0, length)), `length ${length}`).toThrow(/truncated|run past the end/);
    }
  });
});
