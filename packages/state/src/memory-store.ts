import { GUARD_BYTES, GUARD_OFFSET } from './record.ts';
import { SAVE_RESULT, type SaveResult, type StateStore, type StateWrite } from './store.ts';

/**
 * State in process memory with the same compare-and-set rules as the Redis
 * store, for the one-process demo and unit tests of pure logic. Expiry is
 * checked on read.
 */
export class MemoryStateStore implements StateStore {
  readonly #entries = new Map<string, { value: Buffer; expiresAt: number }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  load(keys: readonly string[]): Promise<(Buffer | null)[]> {
    return Promise.resolve(keys.map((k) => this.#get(k)));
  }

  save(writes: readonly StateWrite[], ttlMs: number): Promise<SaveResult[]> {
    return Promise.resolve(
      writes.map((w) => {
        const current = this.#get(w.key);
        // Same comparison as saveStates-n.lua: GETRANGE 8..23 of the stored value.
        const stored = current === null ? Buffer.alloc(0) : current.subarray(GUARD_OFFSET, GUARD_OFFSET + GUARD_BYTES);
        const expected = w.expectGuard ?? Buffer.alloc(0);
        if (!stored.equals(expected)) return SAVE_RESULT.conflict;
        if (w.value === null) this.#entries.delete(w.key);
        else this.#entries.set(w.key, { value: Buffer.from(w.value), expiresAt: this.#now() + ttlMs });
        return SAVE_RESULT.written;
      }),
    );
  }

  close(): Promise<void> {
    this.#entries.clear();
    return Promise.resolve();
  }

  #get(key: string): Buffer | null {
    const e = this.#entries.get(key);
    if (!e) return null;
    if (e.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return null;
    }
    return Buffer.from(e.value);
  }
}
