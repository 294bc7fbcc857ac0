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

  it('deletes under the same guard rule', async () => {
    const { store, prefix } = open();
    const key = `${prefix}gone`;
    await store.save([{ key, expectGuard: null, value: recordAt('t', 0, 5, 1) }], 60_000);
    const [loaded] = await store.load([key]);
    expect(await store.save([{ key, expectGuard: encodeGuard('t', 0, 4), value: null }], 60_000)).toEqual([SAVE_RESULT.conflict]);
    expect(await store.save([{ key, expectGuard: guardOf(loaded!), value: null }], 60_000)).toEqual([SAVE_RESULT.written]);
    expect(await store.load([key])).toEqual([null]);
  });

  it('lets states expire after their TTL', async () => {
    const { store, prefix } = open();
    const key = `${prefix}ttl`;
    await store.save([{ key, expectGuard: null, value: recordAt('t', 0, 1, 1) }], 50);
    await new Promise((r) => setTimeout(r, 120));
    expect(await store.load([key])).toEqual([null]);
  });
}
