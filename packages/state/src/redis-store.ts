import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { StreamcellError } from '@streamcell/protocol';
import { GUARD_BYTES } from './record.ts';
import { defineLuaScripts, readLuaScripts } from './scripts.ts';
import { toSaveResult, type SaveResult, type StateStore, type StateWrite } from './store.ts';

const PACKAGE_VERSION = '0.1.0';
const SCRIPTS = readLuaScripts(fileURLToPath(new URL('./lua', import.meta.url)), PACKAGE_VERSION);
const EMPTY = Buffer.alloc(0);

/**
 * State in Redis: one string per (model, stream), loaded with one pipelined
 * round trip and saved with one pipeline of Lua compare-and-set calls. Plain
 * per-key commands (no multi-key scripts) keep it usable on Redis Cluster.
 */
export class RedisStateStore implements StateStore {
  readonly #redis: Redis;
  readonly #save: string;

  constructor(redis: Redis) {
    this.#redis = redis;
    this.#save = defineLuaScripts(redis, SCRIPTS).get('saveState')!;
  }

  async load(keys: readonly string[]): Promise<(Buffer | null)[]> {
    if (keys.length === 0) return [];
    const pipe = this.#redis.pipeline();
    for (const k of keys) pipe.getBuffer(k);
    return unwrap(await pipe.exec()) as (Buffer | null)[];
  }

  async save(writes: readonly StateWrite[], ttlMs: number): Promise<SaveResult[]> {
    if (writes.length === 0) return [];
    if (!Number.isInteger(ttlMs) || ttlMs <= 0) throw new StreamcellError('config_invalid', `state TTL must be a positive number of milliseconds, got ${ttlMs}`);
    const pipe = this.#redis.pipeline();
    for (const w of writes) {
      if (w.expectGuard !== null && w.expectGuard.length !== GUARD_BYTES) {
        throw new StreamcellError('internal', `guard for ${w.key} is ${w.expectGuard.length} bytes, not ${GUARD_BYTES}`);
      }
      const args = [w.expectGuard ?? EMPTY, w.value ?? EMPTY, ttlMs];
      // Pipelines take the defined command by name, like the client itself.
      (pipe as unknown as Record<string, (...a: unknown[]) => unknown>)[this.#save]!(w.key, ...args);
    }
    const replies = unwrap(await pipe.exec());
    return replies.map((r, i) => toSaveResult(r, writes[i]!.key));
  }

  async close(): Promise<void> {
    await this.#redis.quit();
  }
}

function unwrap(results: [Error | null, unknown][] | null): unknown[] {
  if (results === null) throw new StreamcellError('redis_unavailable', 'Redis pipeline was discarded', { retriable: true });
  return results.map(([err, value]) => {
    if (err) throw new StreamcellError('redis_unavailable', `Redis command failed: ${err.message}`, { retriable: true, cause: err });
    return value;
  });
}
