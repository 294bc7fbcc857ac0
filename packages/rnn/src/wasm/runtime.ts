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
