import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { RedisStateStore, encodeRecord } from '../src/index.ts';
import { deleteKeys } from '../../../test/support/services.ts';
import { record, stateStoreContract } from './store-contract.ts';

describe.each([
  ['a plain client', false],
  ['an auto-pipelining client (as the worker has)', true],
])('RedisStateStore on a real Redis, %s', (_name, enableAutoPipelining) => {
  const redis = new Redis(inject('redisUrl'), { enableAutoPipelining });
  const ns = `test-${randomUUID()}:`;
  const store = new RedisStateStore(redis);
  afterAll(async () => {
    await deleteKeys(redis, `${ns}*`);
    await store.close();
  });

  stateStoreContract(() => ({ store, prefix: `${ns}${randomUUID()}:` }));

  it('loads and saves a batch of 200 states with one socket write each, once its script is loaded', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `${ns}batch:${i}`);
    const writes = keys.map((key, i) => ({ key, expectGuard: null, value: encodeRecord(record(i, i)) }));
    // Warm-up: the first pipeline may ask Redis whether the script is cached.
    await store.save([{ key: `${ns}warm`, expectGuard: null, value: encodeRecord(record(0, 0)) }], 60_000);
    const socket = redis.stream;
    const spy = vi.spyOn(socket, 'write');
    try {
      expect(await store.save(writes, 60_000)).toEqual(keys.map(() => 0));
      expect(spy).toHaveBeenCalledTimes(1);
      spy.mockClear();
      const loaded = await store.load(keys);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(loaded).toEqual(writes.map((w) => w.value));
    } finally {
      spy.mockRestore();
    }
  });

  it('sends the commands of concurrent loads and of concurrent saves, 600 states over 3 callers, in one socket write when auto-pipelining', async () => {
    const callers = [0, 1, 2].map((c) => Array.from({ length: 200 }, (_, i) => `${ns}concurrent:${c}:${i}`));
    const writes = callers.map((keys, c) => keys.map((key, i) => ({ key, expectGuard: null, value: encodeRecord(record(c, i)) })));
    await store.save([{ key: `${ns}warm`, expectGuard: null, value: encodeRecord(record(0, 0)) }], 60_000);
    const spy = vi.spyOn(redis.stream, 'write');
    try {
      // Three partition batches finishing together: each saves, then each loads.
      expect(await Promise.all(writes.map((w) => store.save(w, 60_000)))).toEqual(callers.map((keys) => keys.map(() => 0)));
      const saveWrites = spy.mock.calls.length;
      spy.mockClear();
      expect(await Promise.all(callers.map((keys) => store.load(keys)))).toEqual(writes.map((w) => w.map((x) => x.value)));
      const loadWrites = spy.mock.calls.length;
      expect([saveWrites, loadWrites]).toEqual(enableAutoPipelining ? [1, 1] : [3, 3]);
    } finally {
      spy.mockRestore();
    }
  });

  it('treats a key of another type under the prefix as absent: loads null, and the save overwrites it', async () => {
    const keys = [`${ns}foreign:a`, `${ns}foreign:hash`, `${ns}foreign:b`];
    await redis.hset(keys[1]!, 'not', 'ours');
    expect(await store.load(keys)).toEqual([null, null, null]);
    const writes = keys.map((key, i) => ({ key, expectGuard: null, value: encodeRecord(record(i, i)) }));
    expect(await store.save(writes, 60_000)).toEqual([0, 0, 0]);
    expect(await store.load(keys)).toEqual(writes.map((w) => w.value));
  });
});
