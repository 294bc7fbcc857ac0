import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { StreamcellError } from '@streamcell/protocol';
import { GUARD_BYTES } from './record.ts';
import { defineLuaScripts, readLuaScripts } from './scripts.ts';
import { toSaveResult, type SaveResult, type StateStore, type StateWrite } from './store.ts';

const PACKAGE_VERSION = '0.1.0';
const SCRIPTS = readLuaScripts(fileURLToPath(new URL('./lua', import.meta.url)), PACKAGE_VERSION);
const EMPTY = Buffer.alloc(0);

/** Most keys per saveStates call: one call runs to its end before Redis serves anyone else. */
const KEYS_PER_SCRIPT_CALL = 256;

/**
 * State in Redis: one string per (model, stream), loaded with one MGET and
 * saved with compare-and-set Lua calls that take up to 256 keys each, all
 * in one pipeline: two round trips per batch, and a handful of commands
 * rather than one per stream (the client's and the server's cost per command
 * dominated a worker's Redis time). This needs one Redis node (or a managed
 * single-endpoint Redis): on Redis Cluster a multi-key command must keep to
 * one hash slot, so a cluster-aware store would group keys by slot.
 */
export class RedisStateStore implements StateStore {
  readonly #redis: Redis;
  readonly #save: string;

  constructor(redis: Redis) {
    this.#redis = redis;
    this.#save = defineLuaScripts(redis, SCRIPTS).get('saveStates')!;
  }

  async load(keys: readonly string[]): Promise<(Buffer | null)[]> {
    if (keys.length === 0) return [];
    try {
      return await this.#redis.mgetBuffer(...keys);
    } catch (err) {
      throw new StreamcellError('redis_unavailable', `Redis MGET of ${keys.length} keys failed: ${(err as Error).message}`, { retriable: true, cause: err });
    }
  }

  async save(writes: readonly StateWrite[], ttlMs: number): Promise<SaveResult[]> {
    if (writes.length === 0) return [];
    if (!Number.isInteger(ttlMs) || ttlMs <= 0) throw new StreamcellError('config_invalid', `state TTL must be a positive number of milliseconds, got ${ttlMs}`);
    const pipe = this.#redis.pipeline();
    // Pipelines take the defined command by name, like the client itself.
    const call = (pipe as unknown as Record<string, (...a: unknown[]) => unknown>)[this.#save]!.bind(pipe);
    for (let from = 0; from < writes.length; from += KEYS_PER_SCRIPT_CALL) {
      const part = writes.slice(from, from + KEYS_PER_SCRIPT_CALL);
      const keys: string[] = [];
      const args: (Buffer | number)[] = [ttlMs];
      for (const w of part) {
        if (w.expectGuard !== null && w.expectGuard.length !== GUARD_BYTES) {
          throw new StreamcellError('internal', `guard for ${w.key} is ${w.expectGuard.length} bytes, not ${GUARD_BYTES}`);
        }
        keys.push(w.key);
        args.push(w.expectGuard ?? EMPTY, w.value ?? EMPTY);
      }
      call(keys.length, ...keys, ...args);
    }
    const replies = unwrap(await pipe.exec());
    const results: SaveResult[] = [];
    replies.forEach((reply, call) => {
      const from = call * KEYS_PER_SCRIPT_CALL;
      const count = Math.min(KEYS_PER_SCRIPT_CALL, writes.length - from);
      if (!Array.isArray(reply) || reply.length !== count) {
        throw new StreamcellError('internal', `saveStates returned ${Array.isArray(reply) ? `${reply.length} results` : String(reply)} for ${count} keys`);
      }
      reply.forEach((r: unknown, i) => results.push(toSaveResult(r, writes[from + i]!.key)));
    });
    return results;
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
