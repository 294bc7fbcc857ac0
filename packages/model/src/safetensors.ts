import { StreamcellError } from '@streamcell/protocol';
import { DTYPE_BYTES, OTHER_SAFETENSORS_DTYPES, bfloat16ToNumber, halfToNumber, isFloatDtype } from './dtypes.ts';
import type { FloatDtype } from './dtypes.ts';

// Layout (https://github.com/huggingface/safetensors, "Format"):
//   8 bytes   N, unsigned little-endian 64-bit: header length
//   N bytes   UTF-8 JSON object {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}
//   rest      data buffer; offsets are relative to its start
// We read and write it ourselves: it is small, and owning the parser lets every
// fault in a hostile file become a StreamcellError instead of a crash.

/**
 * Largest header this reader accepts. Real headers are a few hundred bytes per
 * tensor; a larger claim is corruption, and trusting it would make us allocate it.
 */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** A tensor as loaded: values widened/narrowed to float32, row-major. */
export interface Tensor {
  /** The dtype stored in the file (before conversion). */
  readonly dtype: FloatDtype;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Contents of a safetensors file. */
export interface SafetensorsContents {
  /** In file order. A Map, so a tensor named "__proto__" is just a name. */
  readonly tensors: ReadonlyMap<string, Tensor>;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * A tensor to write. `data` must match the dtype: Float32Array for F32,
 * Float64Array for F64, and the raw bit patterns in a Uint16Array for F16 and
 * BF16 (we never round to half precision ourselves; that is the exporter's call).
 */
export type TensorToWrite =
  | { readonly dtype?: 'F32'; readonly shape: readonly number[]; readonly data: Float32Array }
  | { readonly dtype: 'F64'; readonly shape: readonly number[]; readonly data: Float64Array }
  | { readonly dtype: 'F16' | 'BF16'; readonly shape: readonly number[]; readonly data: Uint16Array };

const METADATA_KEY = '__metadata__';

function fault(file: string, message: string, cause?: unknown): StreamcellError {
  return new StreamcellError('model_weights_invalid', `${file}: ${message}`, cause === undefined ? {} : { cause });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

interface Entry {
  name: string;
  dtype: FloatDtype;
  shape: number[];
  numel: number;
  begin: number;
  end: number;
}

function parseEntry(file: string, name: string, raw: unknown, dataLength: number): Entry {
  const where = `tensor "${name}"`;
  if (!isPlainObject(raw)) throw fault(file, `${where}: header entry must be an object`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string') throw fault(file, `${where}: "dtype" must be a string`);
  if (!isFloatDtype(dtype)) {
    const known = OTHER_SAFETENSORS_DTYPES.includes(dtype);
    throw fault(
      file,
      `${where}: ${known ? 'unsupported' : 'unknown'} dtype ${JSON.stringify(dtype)}; weights must be F32, F64, F16 or BF16`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw fault(file, `${where}: "shape" must be an array of non-negative integers`);
  }
  let numel = 1;
  for (const d of shape) {
    numel *= d;
    // Checked per factor so the product cannot silently lose precision.
    if (!Number.isSafeInteger(numel)) throw fault(file, `${where}: shape ${JSON.stringify(shape)} is absurdly large`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !isCount(offsets[0]) || !isCount(offsets[1])) {
    throw fault(file, `${where}: "data_offsets" must be [begin, end] with non-negative integers`);
  }
  const begin = offsets[0];
  const end = offsets[1];
  if (end < begin) throw fault(file, `${where}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLength) {
    throw fault(
      file,
      `${where}: data_offsets [${begin}, ${end}] run past the end of the data (${dataLength} bytes; file truncated?)`,
    );
  }
  const expected = numel * DTYPE_BYTES[dtype];
  if (end - begin !== expected) {
    throw fault(
      file,
      `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} ${JSON.stringify(shape)} needs ${expected}`,
    );
  }
  return { name, dtype, shape: shape, numel, begin, end };
}

function decodeData(view: DataView, base: number, entry: Entry): Float32Array {
  const out = new Float32Array(entry.numel);
  let at = base + entry.begin;
  switch (entry.dtype) {
    case 'F32':
      for (let i = 0; i < out.length; i++, at += 4) out[i] = view.getFloat32(at, true);
      break;
    case 'F64':
      // Out-of-range doubles become ±Infinity here; the model loader rejects them.
      for (let i = 0; i < out.length; i++, at += 8) out[i] = view.getFloat64(at, true);
      break;
    case 'F16':
      for (let i = 0; i < out.length; i++, at += 2) out[i] = halfToNumber(view.getUint16(at, true));
      break;
    case 'BF16':
      for (let i = 0; i < out.length; i++, at += 2) out[i] = bfloat16ToNumber(view.getUint16(at, true));
      break;
  }
  return out;
}

/**
 * Decodes a safetensors file held in memory. `file` only labels error messages.
 * Every structural fault (truncation, absurd or unparsable header, offsets out
 * of range, overlapping or leaving gaps, dtype/shape/size disagreement) throws
 * a `model_weights_invalid` StreamcellError; nothing else escapes.
 */
export function decodeSafetensors(bytes: Uint8Array, file = 'safetensors file'): SafetensorsContents {
  if (bytes.byteLength < 8) {
    throw fault(file, `truncated: ${bytes.byteLength} bytes, too short for the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw fault(file, `header length ${headerLength} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt file?)`);
  }
  const n = Number(headerLength);
  if (8 + n > bytes.byteLength) {
    throw fault(file, `truncated: header claims ${n} bytes but only ${bytes.byteLength - 8} follow`);
  }

  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
    header = JSON.parse(text);
  } catch (err) {
    throw fault(file, `header is not valid UTF-8 JSON (${(err as Error).message})`, err);
  }
  if (!isPlainObject(header)) throw fault(file, 'header must be a JSON object');

  const dataLength = bytes.byteLength - 8 - n;
  const entries: Entry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (!isPlainObject(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
        throw fault(file, `"${METADATA_KEY}" must be an object of string values`);
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    entries.push(parseEntry(file, name, raw, dataLength));
  }

  // The format requires the tensors to tile the data buffer exactly. Overlaps
  // would alias two tensors; gaps or trailing bytes mean the writer and this
  // header disagree, e.g. two files concatenated or a header edited by hand.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: Entry | undefined;
  for (const entry of byOffset) {
    if (entry.begin < covered) {
      throw fault(
        file,
        `tensor "${entry.name}" data_offsets [${entry.begin}, ${entry.end}] overlap tensor "${previous?.name}" [${previous?.begin}, ${previous?.end}]`,
      );
    }
    if (entry.begin > covered) {
      throw fault(file, `bytes ${covered}..${entry.begin} of the data buffer belong to no tensor`);
    }
    covered = entry.end;
    previous = entry;
  }
  if (covered !== dataLength) {
    throw fault(file, `${dataLength - covered} trailing bytes after the last tensor's data`);
  }

  const base = 8 + n;
  const tensors = new Map<string, Tensor>();
  for (const entry of entries) {
    tensors.set(entry.name, { dtype: entry.dtype, shape: entry.shape, data: decodeData(view, base, entry) });
  }
  return { tensors, metadata };
}

function writerFault(message: string): StreamcellError {
  return new StreamcellError('model_weights_invalid', `cannot write safetensors: ${message}`);
}

/**
 * Encodes tensors as a safetensors file, in the given order. The header is
 * padded with spaces to a multiple of 8 bytes, as the reference writer does,
 * so that readers which map the file can view F32/F64 data in place.
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, TensorToWrite>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  const planned: { dtype: FloatDtype; tensor: TensorToWrite; begin: number }[] = [];
  let offset = 0;
  for (const [name, tensor] of tensors) {
    if (name === METADATA_KEY) throw writerFault(`"${METADATA_KEY}" is reserved and cannot name a tensor`);
    const dtype: FloatDtype = tensor.dtype ?? 'F32';
    const expectedArray = { F32: Float32Array, F64: Float64Array, F16: Uint16Array, BF16: Uint16Array }[dtype];
    if (!(tensor.data instanceof expectedArray)) {
      throw writerFault(`tensor "${name}": ${dtype} data must be a ${expectedArray.name}`);
    }
    if (!tensor.shape.every(isCount)) throw writerFault(`tensor "${name}": shape must be non-negative integers`);
    const numel = tensor.shape.reduce((a, b) => a * b, 1);
    if (numel !== tensor.data.length) {
      throw writerFault(`tensor "${name}": shape ${JSON.stringify(tensor.shape)} holds ${numel} values, data has ${tensor.data.length}`);
    }
    const size = numel * DTYPE_BYTES[dtype];
    // Defined properties, not assignment: a tensor named "__proto__" must stay a key.
    Object.defineProperty(header, name, {
      value: { dtype, shape: [...tensor.shape], data_offsets: [offset, offset + size] },
      enumerable: true,
      configurable: true,
      writable: true,
    });
    planned.push({ dtype, tensor, begin: offset });
    offset += size;
  }
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    header[METADATA_KEY] = { ...metadata };
  }

  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded !== headerBytes.length) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(headerBytes);
    headerBytes = withSpaces;
  }

  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  const base = 8 + headerBytes.length;
  for (const { dtype, tensor, begin } of planned) {
    const data = tensor.data;
    const width = DTYPE_BYTES[dtype];
    for (let i = 0, at = base + begin; i < data.length; i++, at += width) {
      const v = data[i]!;
      if (dtype === 'F32') view.setFloat32(at, v, true);
      else if (dtype === 'F64') view.setFloat64(at, v, true);
      else view.setUint16(at, v, true);
    }
  }
  return out;
}
