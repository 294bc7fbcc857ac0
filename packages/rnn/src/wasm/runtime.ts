import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { isMainThread } from 'node:worker_threads';

/**
 * The slice of the WebAssembly JS API the steppers use. The workspace's
 * TypeScript libs (ES2024 + @types/node) do not declare `WebAssembly`, and a
 * global declaration here would clash with lib.dom if another package ever
 * pulls it in, so the runtime is reached through `globalThis` with a local type.
 */
interface WasmApi {
  validate(bytes: Uint8Array<ArrayBuffer>): boolean;
  Module: new (bytes: Uint8Array<ArrayBuffer>) => object;
  Instance: new (module: object, imports?: object) => { readonly exports: Record<string, unknown> };
}

/** The V8 flag of the revectorizer, see {@link wasmRevectorize}. */
export const REVECTORIZE_FLAG = '--experimental-wasm-revectorize';
/** Set to 0 to keep V8's wasm revectorizer off (default: on where the CPU has AVX2). */
export const REVECTORIZE_ENV = 'STREAMCELL_WASM_REVECTORIZE';

let revectorize: boolean | undefined;

/**
 * Whether our kernels are compiled with V8's wasm revectorizer, turning it on
 * the first time it is asked (before any kernel is compiled). WebAssembly SIMD
 * has 128-bit vectors only; V8's optimising compiler can fuse two identical
 * 128-bit expression trees that load and store neighbouring addresses into one
 * of 256-bit AVX2 instructions (`--experimental-wasm-revectorize`, off by
 * default, in Node 24's V8). The kernels are generated so that their hot loops
 * come in such pairs. Each lane still runs the very same operations (a fused
 * multiply-add stays one fused multiply-add), so the results are the same bits
 * as without it, which the tests check in a process where it is off.
 *
 * On when: the CPU is x86-64 with AVX2 (read from /proc/cpuinfo; elsewhere
 * the flag would do nothing), and `STREAMCELL_WASM_REVECTORIZE` is not `0`.
 * The flag is process-wide, so it also applies to any other WebAssembly the
 * process compiles afterwards; set the variable to 0 to keep V8's defaults.
 */
export function wasmRevectorize(): boolean {
  if (revectorize !== undefined) return revectorize;
  const setting = process.env[REVECTORIZE_ENV];
  if (setting !== undefined && setting !== '' && setting !== '0' && setting !== '1') {
    throw new RangeError(`${REVECTORIZE_ENV} must be 0 or 1, got ${JSON.stringify(setting)}`);
  }
  revectorize = setting !== '0' && process.arch === 'x64' && cpuHasAvx2();
  // V8's flags are the process'; a worker thread leaves them to the main thread, whose
  // kernels come first (the worker's step thread starts after its models are loaded).
  if (revectorize && isMainThread) setFlagsFromString(REVECTORIZE_FLAG);
  return revectorize;
}

function cpuHasAvx2(): boolean {
  try {
    return /^flags\s*:.*\bavx2\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

/** Exports of an instantiated module, as the caller says they are. */
export function instantiate<T>(bytes: Uint8Array<ArrayBuffer>): T {
  return instantiateCompiled<T>(compile(bytes));
}

/** A compiled module, to instantiate many times without compiling again. */
export function compile(bytes: Uint8Array<ArrayBuffer>): object {
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  return new wasm.Module(bytes);
}

/** Exports of a fresh instance of a compiled module. */
export function instantiateCompiled<T>(module: object): T {
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  return new wasm.Instance(module).exports as T;
}

/** True when the engine accepts the module (used for feature detection). */
export function validate(bytes: Uint8Array<ArrayBuffer>): boolean {
  const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  return wasm !== undefined && wasm.validate(bytes);
}
