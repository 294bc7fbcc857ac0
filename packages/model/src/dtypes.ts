/**
 * Floating-point element types a weights file may use. Everything is widened or
 * narrowed to float32 on load because that is what the kernels compute in.
 */
export const FLOAT_DTYPES = ['F32', 'F64', 'F16', 'BF16'] as const;

/** One of {@link FLOAT_DTYPES}. */
export type FloatDtype = (typeof FLOAT_DTYPES)[number];

/** Other dtype names of the safetensors format, recognised only to reject them clearly. */
export const OTHER_SAFETENSORS_DTYPES: readonly string[] = [
  'BOOL',
  'U8',
  'I8',
  'U16',
  'I16',
  'U32',
  'I32',
  'U64',
  'I64',
  'F8_E4M3',
  'F8_E5M2',
  'F8_E8M0',
  'F6_E2M3',
  'F6_E3M2',
  'F4',
  'C64',
];

/** Bytes per element. */
export const DTYPE_BYTES: Readonly<Record<FloatDtype, number>> = { F32: 4, F64: 8, F16: 2, BF16: 2 };

/** True when `dtype` is one of {@link FLOAT_DTYPES}. */
export function isFloatDtype(dtype: string): dtype is FloatDtype {
  return (FLOAT_DTYPES as readonly string[]).includes(dtype);
}

/** IEEE 754 binary16 bits to a number (exact: every half value is a float32 value). */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1024 + fraction) * 2 ** (exponent - 25);
}

const scratch = new DataView(new ArrayBuffer(4));

/** bfloat16 bits to a number: they are the top half of a float32. */
export function bfloat16ToNumber(bits: number): number {
  scratch.setUint32(0, (bits & 0xffff) << 16);
  return scratch.getFloat32(0);
}
