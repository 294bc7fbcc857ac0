import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { RedisStateStore, encodeRecord } from '../src/index.ts';
import { deleteKeys } from '../../../test/support/services.ts';
import { record, stateStoreContract } from './store-contract.ts';

describe('RedisStateStore on a real Redis', () => {
  const redis = new Redis(inject('redisUrl'));
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

  it('treats a key of another type under the prefix as absent: loads null, and the save overwrites it', async () => {
    const keys = [`${ns}foreign:a`, `${ns}foreign:hash`, `${ns}foreign:b`];
    await redis.hset(keys[1]!, 'not', 'ours');
    expect(await store.load(keys)).toEqual([null, null, null]);
    const writes = keys.map((key, i) => ({ key, expectGuard: null, value: encodeRecord(record(i, i)) }));
    expect(await store.save(writes, 60_000)).toEqual([0, 0, 0]);
    expect(await store.load(keys)).toEqual(writes.map((w) => w.value));
  });
});
