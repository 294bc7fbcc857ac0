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
 * sent before any answer is awaited: two round trips per batch (or group
 * of batches handled together), and a
 * handful of commands rather than one per stream (the client's and the
 * server's cost per command dominated a worker's Redis time).
 *
 * Give it a client with `enableAutoPipelining: true` (the worker does): the
 * commands issued in one tick, those of partition batches handled at once
 * included, then leave in one socket write. A loopback write costs tens of
 * microseconds of system time on a VM, and at a few thousand events a second
 * in small batches those writes were the largest part of a worker's CPU.
 *
 * This needs one Redis node (or a managed single-endpoint Redis): on Redis
 * Cluster a multi-key command must keep to one hash slot, so a cluster-aware
 * store would group keys by slot.
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
    // Checked before anything is sent, so that a bad write sends nothing. A guard is what
    // GETRANGE 8..23 gives of the stored value: 16 bytes, or fewer when what is stored is
    // shorter (not a record of ours; the worker overwrites it under that guard).
    for (const w of writes) {
      if (w.expectGuard !== null && w.expectGuard.length > GUARD_BYTES) {
        throw new StreamcellError('internal', `guard for ${w.key} is ${w.expectGuard.length} bytes, more than ${GUARD_BYTES}`);
      }
    }
    // The client takes the defined command by name.
    const call = (this.#redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[this.#save]!.bind(this.#redis);
    const calls: Promise<unknown>[] = [];
    for (let from = 0; from < writes.length; from += KEYS_PER_SCRIPT_CALL) {
      const part = writes.slice(from, from + KEYS_PER_SCRIPT_CALL);
      const keys: string[] = [];
      const args: (Buffer | number)[] = [ttlMs];
      for (const w of part) {
        keys.push(w.key);
        args.push(w.expectGuard ?? EMPTY, w.value ?? EMPTY);
      }
      calls.push(call(keys.length, ...keys, ...args));
    }
    const replies = await settle(calls);
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

/** Every call's reply, once all have answered; the first failure as `redis_unavailable`. */
async function settle(calls: readonly Promise<unknown>[]): Promise<unknown[]> {
  const results = await Promise.allSettled(calls);
  return results.map((r) => {
    if (r.status === 'rejected') {
      const err = r.reason as Error;
      throw new StreamcellError('redis_unavailable', `Redis command failed: ${err.message}`, { retriable: true, cause: err });
    }
    return r.value;
  });
}
