/**
 * A minimal WebAssembly binary encoder: just the module sections, control
 * flow, i32 arithmetic and 128-bit SIMD instructions the generated kernels
 * use. Kernels are emitted at load time, specialised to one model's sizes, so
 * the repository carries no generated binaries and no build step.
 *
 * Encodings follow the WebAssembly core specification (binary format) and the
 * fixed-width SIMD and relaxed-SIMD proposals (prefix 0xfd, LEB128 opcode).
 */

/** Value types the kernels use. */
export type ValType = 'i32' | 'f32' | 'f64' | 'v128';

const VALTYPE_BYTE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b };

function pushU32(out: number[], value: number): void {
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

function pushS32(out: number[], value: number): void {
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

function pushBytes(out: number[], bytes: ArrayLike<number>): void {
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]!);
}

function pushName(out: number[], name: string): void {
  const bytes = new TextEncoder().encode(name);
  pushU32(out, bytes.length);
  pushBytes(out, bytes);
}

function pushSection(out: number[], id: number, body: number[]): void {
  out.push(id);
  pushU32(out, body.length);
  pushBytes(out, body);
}

/** Bit pattern of one float32, as the four little-endian bytes wasm stores. */
function f32Bytes(value: number): number[] {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value, true);
  return [view.getUint8(0), view.getUint8(1), view.getUint8(2), view.getUint8(3)];
}

const SIMD = 0xfd;

/** Emits something onto the operand stack (a local, a load, a constant...). */
export type Emit = () => void;

/**
 * Builds one function body. Methods append instructions in stack-machine
 * order; `local()` declares a fresh local and returns its index.
 */
export class FunctionBuilder {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
  /** When true `madd` emits f32x4.relaxed_madd, otherwise f32x4.mul + f32x4.add. */
  readonly relaxed: boolean;
  private readonly localTypes: ValType[] = [];
  private readonly code: number[] = [];

  constructor(params: readonly ValType[], results: readonly ValType[], relaxed: boolean) {
    this.params = params;
    this.results = results;
    this.relaxed = relaxed;
  }

  local(type: ValType): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  // --- control ---------------------------------------------------------------
  block(): void {
    this.code.push(0x02, 0x40);
  }
  loop(): void {
    this.code.push(0x03, 0x40);
  }
  if(): void {
    this.code.push(0x04, 0x40);
  }
  end(): void {
    this.code.push(0x0b);
  }
  br(depth: number): void {
    this.code.push(0x0c);
    pushU32(this.code, depth);
  }
  brIf(depth: number): void {
    this.code.push(0x0d);
    pushU32(this.code, depth);
  }
  call(funcIndex: number): void {
    this.code.push(0x10);
    pushU32(this.code, funcIndex);
  }
  drop(): void {
    this.code.push(0x1a);
  }

  // --- locals and i32 ----------------------------------------------------------
  get(index: number): void {
    this.code.push(0x20);
    pushU32(this.code, index);
  }
  set(index: number): void {
    this.code.push(0x21);
    pushU32(this.code, index);
  }
  tee(index: number): void {
    this.code.push(0x22);
    pushU32(this.code, index);
  }
  i32(value: number): void {
    this.code.push(0x41);
    pushS32(this.code, value);
  }
  i32Eqz(): void {
    this.code.push(0x45);
  }
  i32Eq(): void {
    this.code.push(0x46);
  }
  i32Ne(): void {
    this.code.push(0x47);
  }
  i32LtS(): void {
    this.code.push(0x48);
  }
  i32LtU(): void {
    this.code.push(0x49);
  }
  i32Add(): void {
    this.code.push(0x6a);
  }
  i32Sub(): void {
    this.code.push(0x6b);
  }
  i32Mul(): void {
    this.code.push(0x6c);
  }
  i32DivU(): void {
    this.code.push(0x6e);
  }
  i32RemU(): void {
    this.code.push(0x70);
  }
  /** local += delta (i32). */
  addTo(index: number, delta: number): void {
    if (delta === 0) return;
    this.get(index);
    this.i32(delta);
    this.i32Add();
    this.set(index);
  }
  /** memory.copy(dst, src, n) with operands already on the stack. */
  memoryCopy(): void {
    this.code.push(0xfc);
    pushU32(this.code, 10);
    this.code.push(0x00, 0x00);
  }

  // --- SIMD ------------------------------------------------------------------
  private simd(op: number): void {
    this.code.push(SIMD);
    pushU32(this.code, op);
  }
  private memarg(align: number, offset: number): void {
    pushU32(this.code, align);
    pushU32(this.code, offset);
  }
  /** v128.load from [address on stack + offset]. Alignment hint 16 bytes is not required by wasm. */
  load(offset: number): void {
    this.simd(0x00);
    this.memarg(0, offset);
  }
  store(offset: number): void {
    this.simd(0x0b);
    this.memarg(0, offset);
  }
  /** v128.load32_splat: one float broadcast to all four lanes. */
  loadSplat(offset: number): void {
    this.simd(0x09);
    this.memarg(2, offset);
  }
  /** v128.load64_splat: one float64 broadcast to both lanes. */
  load64Splat(offset: number): void {
    this.simd(0x0a);
    this.memarg(3, offset);
  }
  /** f64x2.add (IEEE, lane by lane: the same bits as a JS addition). */
  f64x2Add(): void {
    this.simd(0xf0);
  }
  /** f64x2.mul (IEEE, lane by lane: the same bits as a JS multiplication). */
  f64x2Mul(): void {
    this.simd(0xf2);
  }
  /** f32.load from [address on stack + offset]. */
  f32Load(offset: number): void {
    this.code.push(0x2a);
    this.memarg(2, offset);
  }
  f32x4Splat(): void {
    this.simd(0x13);
  }
  /** v128.store32_lane: stores one lane, so partial blocks never write past their row. */
  storeLane(offset: number, lane: number): void {
    this.simd(0x5a);
    this.memarg(2, offset);
    this.code.push(lane);
  }
  /** v128.const with the same float in all four lanes. */
  f32x4Const(value: number): void {
    this.simd(0x0c);
    const b = f32Bytes(value);
    for (let i = 0; i < 4; i++) pushBytes(this.code, b);
  }
  /** v128.const with the same int in all four lanes. */
  i32x4Const(value: number): void {
    this.simd(0x0c);
    const b = [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
    for (let i = 0; i < 4; i++) pushBytes(this.code, b);
  }
  f32x4Add(): void {
    this.simd(0xe4);
  }
  f32x4Sub(): void {
    this.simd(0xe5);
  }
  f32x4Mul(): void {
    this.simd(0xe6);
  }
  f32x4Div(): void {
    this.simd(0xe7);
  }
  /** IEEE max (NaN propagates), used for ReLU. */
  f32x4Max(): void {
    this.simd(0xe9);
  }
  /** pmin(a, b) = b < a ? b : a (a single minps). */
  f32x4Pmin(): void {
    this.simd(0xea);
  }
  /** pmax(a, b) = a < b ? b : a (a single maxps). */
  f32x4Pmax(): void {
    this.simd(0xeb);
  }
  f32x4Abs(): void {
    this.simd(0xe0);
  }
  v128Xor(): void {
    this.simd(0x51);
  }
  f32x4Neg(): void {
    this.simd(0xe1);
  }
  i32x4Shl(): void {
    this.simd(0xab);
  }
  i32x4Add(): void {
    this.simd(0xae);
  }
  /** f32x4.relaxed_madd: a*b+c, fused or not as the engine chooses (consistently per engine). */
  relaxedMadd(): void {
    this.simd(0x105);
  }
  /**
   * a*b + c. With relaxed SIMD a single (usually fused) instruction; without
   * it a separate multiply and add. Either way the lanes are independent, so
   * the result of one lane never depends on what shares the vector.
   */
  madd(a: Emit, b: Emit, c: Emit): void {
    if (this.relaxed) {
      a();
      b();
      c();
      this.relaxedMadd();
    } else {
      c();
      a();
      b();
      this.f32x4Mul();
      this.f32x4Add();
    }
  }

  /** The function body as the code section expects it (size-prefixed). */
  encode(): number[] {
    const body: number[] = [];
    // Run-length encode consecutive locals of the same type.
    const groups: { type: ValType; count: number }[] = [];
    for (const type of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last !== undefined && last.type === type) last.count++;
      else groups.push({ type, count: 1 });
    }
    pushU32(body, groups.length);
    for (const g of groups) {
      pushU32(body, g.count);
      body.push(VALTYPE_BYTE[g.type]);
    }
    pushBytes(body, this.code);
    body.push(0x0b);
    const out: number[] = [];
    pushU32(out, body.length);
    pushBytes(out, body);
    return out;
  }
}

/** One function of a module, optionally exported under a name. */
export interface ModuleFunction {
  readonly body: FunctionBuilder;
  readonly exportName?: string;
}

/**
 * Assembles a module with one memory of fixed size (exported as `memory`)
 * and the given functions, in index order.
 */
export function encodeModule(memoryPages: number, functions: readonly ModuleFunction[]): Uint8Array<ArrayBuffer> {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

  const types: number[] = [];
  pushU32(types, functions.length);
  for (const { body } of functions) {
    types.push(0x60);
    pushU32(types, body.params.length);
    for (const p of body.params) types.push(VALTYPE_BYTE[p]);
    pushU32(types, body.results.length);
    for (const r of body.results) types.push(VALTYPE_BYTE[r]);
  }
  pushSection(out, 1, types);

  const funcs: number[] = [];
  pushU32(funcs, functions.length);
  functions.forEach((_, i) => pushU32(funcs, i));
  pushSection(out, 3, funcs);

  const memory: number[] = [];
  pushU32(memory, 1);
  memory.push(0x01);
  pushU32(memory, memoryPages);
  pushU32(memory, memoryPages);
  pushSection(out, 5, memory);

  const exported = functions.map((f, i) => ({ name: f.exportName, i })).filter((e) => e.name !== undefined);
  const exports: number[] = [];
  pushU32(exports, exported.length + 1);
  pushName(exports, 'memory');
  exports.push(0x02, 0x00);
  for (const e of exported) {
    pushName(exports, e.name!);
    exports.push(0x00);
    pushU32(exports, e.i);
  }
  pushSection(out, 7, exports);

  const code: number[] = [];
  pushU32(code, functions.length);
  for (const { body } of functions) pushBytes(code, body.encode());
  pushSection(out, 10, code);

  return new Uint8Array(out);
}
