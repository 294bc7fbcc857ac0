/**
 * The behaviour every StateStore must have; run against the in-memory store
 * (unit) and the Redis store (integration, real Redis).
 */
import { expect, it } from 'vitest';
import { encodeGuard, encodeRecord, guardOf, SAVE_RESULT, type StateRecord, type StateStore } from '../src/index.ts';

export function record(offset: number, fill: number): StateRecord {
  return {
    modelHash: 7,
    topicHash: 0,
    partition: 0,
    offset,
    lastEventTs: 1000 + offset,
    steps: offset + 1,
    state: new Float32Array([fill, fill + 1, fill + 2, fill + 3]),
    scoring: new Float32Array([fill, -fill]),
    historyKnown: 1,
  };
}

function recordAt(topic: string, partition: number, offset: number, fill: number): Buffer {
  const b = encodeRecord(record(offset, fill));
  encodeGuard(topic, partition, offset).copy(b, 8);
  return b;
}

/** Registers the contract tests; `open` gives a fresh store and a key prefix. */
export function stateStoreContract(open: () => { store: StateStore; prefix: string }): void {
  it('loads null for absent keys, in the order asked', async () => {
    const { store, prefix } = open();
    expect(await store.load([`${prefix}a`, `${prefix}b`])).toEqual([null, null]);
  });

  it('creates a state only while the key is still absent', async () => {
    const { store, prefix } = open();
    const key = `${prefix}new`;
    const first = recordAt('t', 0, 1, 1);
    expect(await store.save([{ key, expectGuard: null, value: first }], 60_000)).toEqual([SAVE_RESULT.written]);
    // A second writer that also saw no key loses.
    expect(await store.save([{ key, expectGuard: null, value: recordAt('t', 0, 1, 9) }], 60_000)).toEqual([SAVE_RESULT.conflict]);
    const [loaded] = await store.load([key]);
    expect(loaded).toEqual(first);
  });

  it('writes only when the stored guard is the one loaded, per key, in one call', async () => {
    const { store, prefix } = open();
    const [a, b] = [`${prefix}a`, `${prefix}b`];
    await store.save(
      [
        { key: a, expectGuard: null, value: recordAt('t', 1, 10, 1) },
        { key: b, expectGuard: null, value: recordAt('t', 1, 20, 2) },
      ],
      60_000,
    );
    const [la, lb] = await store.load([a, b]);
    // Another worker moves b on meanwhile.
    await store.save([{ key: b, expectGuard: guardOf(lb!), value: recordAt('t', 1, 21, 3) }], 60_000);
    const results = await store.save(
      [
        { key: a, expectGuard: guardOf(la!), value: recordAt('t', 1, 11, 4) },
        { key: b, expectGuard: guardOf(lb!), value: recordAt('t', 1, 21, 5) },
      ],
      60_000,
    );
    expect(results).toEqual([SAVE_RESULT.written, SAVE_RESULT.conflict]);
    const [na, nb] = await store.load([a, b]);
    expect(na).toEqual(recordAt('t', 1, 11, 4));
    expect(nb).toEqual(recordAt('t', 1, 21, 3));
  });

  it('overwrites a value too short to be a record under the guard taken from it', async () => {
    const { store, prefix } = open();
    const key = `${prefix}short`;
    await store.save([{ key, expectGuard: null, value: Buffer.from('not a record') }], 60_000);
    const [loaded] = await store.load([key]);
    // Bytes 8 onwards of 12: what GETRANGE 8..23 gives.
    expect(guardOf(loaded!)).toEqual(Buffer.from('cord'));
    expect(await store.save([{ key, expectGuard: Buffer.from('other'), value: recordAt('t', 0, 1, 1) }], 60_000)).toEqual([SAVE_RESULT.conflict]);
    expect(await store.save([{ key, expectGuard: guardOf(loaded!), value: recordAt('t', 0, 1, 1) }], 60_000)).toEqual([SAVE_RESULT.written]);
    expect(await store.load([key])).toEqual([recordAt('t', 0, 1, 1)]);
  });

  it('deletes under the same guard rule', async () => {
    const { store, prefix } = open();
    const key = `${prefix}gone`;
    await store.save([{ key, expectGuard: null, value: recordAt('t', 0, 5, 1) }], 60_000);
    const [loaded] = await store.load([key]);
    expect(await store.save([{ key, expectGuard: encodeGuard('t', 0, 4), value: null }], 60_000)).toEqual([SAVE_RESULT.conflict]);
    expect(await store.save([{ key, expectGuard: guardOf(loaded!), value: null }], 60_000)).toEqual([SAVE_RESULT.written]);
    expect(await store.load([key])).toEqual([null]);
  });

  it('decides each of a thousand writes on its own, results in order (stores may split large saves)', async () => {
    const { store, prefix } = open();
    const keys = Array.from({ length: 1000 }, (_, i) => `${prefix}many:${i}`);
    const first = keys.map((key, i) => ({ key, expectGuard: null, value: recordAt('t', 0, 1, i) }));
    expect(await store.save(first, 60_000)).toEqual(keys.map(() => SAVE_RESULT.written));
    // Every seventh writer holds a stale guard (it saw no key); every eleventh deletes.
    const loaded = await store.load(keys);
    const second = keys.map((key, i) => ({
      key,
      expectGuard: i % 7 === 3 ? null : guardOf(loaded[i]!),
      value: i % 11 === 5 ? null : recordAt('t', 0, 2, i + 0.5),
    }));
    const results = await store.save(second, 60_000);
    expect(results).toEqual(keys.map((_, i) => (i % 7 === 3 ? SAVE_RESULT.conflict : SAVE_RESULT.written)));
    const after = await store.load(keys);
    after.forEach((raw, i) => {
      const expected = i % 7 === 3 ? recordAt('t', 0, 1, i) : i % 11 === 5 ? null : recordAt('t', 0, 2, i + 0.5);
      expect(raw, keys[i]).toEqual(expected);
    });
  });

  it('lets states expire after their TTL', async () => {
    const { store, prefix } = open();
    const key = `${prefix}ttl`;
    await store.save([{ key, expectGuard: null, value: recordAt('t', 0, 1, 1) }], 50);
    await new Promise((r) => setTimeout(r, 120));
    expect(await store.load([key])).toEqual([null]);
  });
}
