/**
 * What every Source/Sink pair must do, run against the in-memory log (unit)
 * and against the real broker through kafkajs (integration), so that the demo
 * and production behave alike where the worker can tell.
 */
import { expect, it } from 'vitest';
import { partitionForKey, type BatchHandler, type InboundBatch, type OutboundMessage, type Source } from '../src/index.ts';

/** How a contract run reaches one log implementation. */
export interface LogFixture {
  createTopic(name: string, partitions: number): Promise<string>;
  /** Appends in order; `oneByOne` sends each message on its own so the log stores them in separate record batches. */
  produce(topic: string, messages: readonly OutboundMessage[], oneByOne?: boolean): Promise<void>;
  /** A source reading from the beginning; `smallBatches` makes batches hold a few messages only. */
  source(groupId: string, topics: readonly string[], options?: { smallBatches?: boolean; concurrency?: number }): Source;
  /** The group's committed next offset per partition of `topic`; absent when none. */
  committed(groupId: string, topic: string): Promise<Map<number, string>>;
  groupId(name: string): string;
}

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function keyed(keys: number, perKey: number): OutboundMessage[] {
  const out: OutboundMessage[] = [];
  for (let seq = 0; seq < perKey; seq++) {
    for (let k = 0; k < keys; k++) out.push({ key: `stream-${k}`, value: JSON.stringify({ stream: `stream-${k}`, seq }), headers: { seq: String(seq) } });
  }
  return out;
}

function numbered(n: number): OutboundMessage[] {
  return Array.from({ length: n }, (_, i) => ({ key: 'one-stream', value: String(i) }));
}

/** A handler that records everything and commits each batch's end. */
function recorder(): { handler: BatchHandler; batches: InboundBatch[]; count: () => number } {
  const batches: InboundBatch[] = [];
  return {
    batches,
    count: () => batches.reduce((n, b) => n + b.messages.length, 0),
    handler: async (batch, control) => {
      batches.push(batch);
      await control.commit(String(Number(batch.messages.at(-1)!.offset) + 1));
    },
  };
}

/** Registers the contract's tests; `fixture` is read when each test runs. */
export function sourceContract(fixture: () => LogFixture): void {
  it('delivers every message once, one partition per batch in offset order, each stream in order on its murmur2 partition', async () => {
    const f = fixture();
    const partitions = 4;
    const topic = await f.createTopic('order', partitions);
    const messages = keyed(25, 12);
    await f.produce(topic, messages);
    const rec = recorder();
    const source = f.source(f.groupId('order'), [topic]);
    await source.start(rec.handler);
    try {
      await waitFor(() => rec.count() >= messages.length, `${messages.length} messages`);
    } finally {
      await source.stop();
    }
    expect(rec.count()).toBe(messages.length);
    const seqs = new Map<string, number[]>();
    const partitionOf = new Map<string, number>();
    for (const b of rec.batches) {
      expect(b.topic).toBe(topic);
      const offsets = b.messages.map((m) => Number(m.offset));
      expect(offsets).toEqual(offsets.map((_, i) => offsets[0]! + i));
      expect(Number(b.highWatermark)).toBeGreaterThan(offsets.at(-1)!);
      for (const m of b.messages) {
        expect(m.partition).toBe(b.partition);
        const { stream, seq } = JSON.parse(m.value!.toString()) as { stream: string; seq: number };
        expect(m.key?.toString()).toBe(stream);
        expect(m.headers).toEqual({ seq: String(seq) });
        expect(typeof m.timestamp).toBe('number');
        expect(Math.abs(m.timestamp - Date.now())).toBeLessThan(120_000);
        seqs.set(stream, [...(seqs.get(stream) ?? []), seq]);
        partitionOf.set(stream, m.partition);
      }
    }
    for (const [stream, got] of seqs) {
      expect(got, stream).toEqual(Array.from({ length: 12 }, (_, i) => i));
      // Kafka's Java default partitioner: our murmur2 has to agree with what the producer did.
      expect(partitionOf.get(stream), stream).toBe(partitionForKey(stream, partitions));
    }
    expect(new Set(partitionOf.values()).size).toBe(partitions);
  });

  it('commits land: a later member of the group receives only what was not committed', async () => {
    const f = fixture();
    const topic = await f.createTopic('resume', 3);
    const group = f.groupId('resume');
    const first = keyed(10, 5);
    await f.produce(topic, first);
    const rec1 = recorder();
    const s1 = f.source(group, [topic]);
    await s1.start(rec1.handler);
    try {
      await waitFor(() => rec1.count() >= first.length, 'first round');
    } finally {
      await s1.stop();
    }
    const committed = await f.committed(group, topic);
    const perPartition = new Map<number, number>();
    for (const b of rec1.batches) perPartition.set(b.partition, (perPartition.get(b.partition) ?? 0) + b.messages.length);
    expect(committed).toEqual(new Map([...perPartition].map(([p, n]) => [p, String(n)])));

    const second = keyed(10, 2).map((m) => ({ ...m, value: `late:${m.value as string}` }));
    await f.produce(topic, second);
    const rec2 = recorder();
    const s2 = f.source(group, [topic]);
    await s2.start(rec2.handler);
    try {
      await waitFor(() => rec2.count() >= second.length, 'second round');
      // Give a wrongly re-read old message time to show up.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await s2.stop();
    }
    const values = rec2.batches.flatMap((b) => b.messages.map((m) => m.value!.toString()));
    expect(values.length).toBe(second.length);
    expect(values.every((v) => v.startsWith('late:'))).toBe(true);
  });

  it('a handler that throws midway gets the uncommitted messages again and nothing past its commit is committed', async () => {
    const f = fixture();
    const topic = await f.createTopic('throw', 1);
    const group = f.groupId('throw');
    await f.produce(topic, numbered(40));
    const delivered: number[] = [];
    let thrown = false;
    let committedWhenRedelivered: string | undefined;
    const source = f.source(group, [topic]);
    await source.start(async (batch, control) => {
      if (thrown && committedWhenRedelivered === undefined) committedWhenRedelivered = (await f.committed(group, topic)).get(0);
      for (const m of batch.messages) {
        const offset = Number(m.offset);
        delivered.push(offset);
        if (offset === 15 && !thrown) {
          thrown = true;
          throw new Error('simulated failure at offset 15');
        }
        // Before the failure only the first ten are committed, one by one.
        if (thrown || offset < 10) await control.commit(String(offset + 1));
      }
    });
    try {
      await waitFor(async () => (await f.committed(group, topic)).get(0) === '40', 'commit of all 40');
    } finally {
      await source.stop();
    }
    expect(committedWhenRedelivered).toBe('10');
    const failedAt = delivered.indexOf(15);
    expect(delivered.slice(0, failedAt + 1)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(delivered.slice(failedAt + 1)).toEqual(Array.from({ length: 30 }, (_, i) => i + 10));
  });

  it('after batches returned without a commit, a throw redelivers from the last commit, not from the read position', async () => {
    const f = fixture();
    const topic = await f.createTopic('rewind', 1);
    const group = f.groupId('rewind');
    await f.produce(topic, numbered(40), true);
    const batches: number[][] = [];
    let thrown = false;
    const source = f.source(group, [topic], { smallBatches: true });
    await source.start(async (batch, control) => {
      const offsets = batch.messages.map((m) => Number(m.offset));
      batches.push(offsets);
      if (!thrown) {
        if (offsets.includes(30)) {
          thrown = true;
          throw new Error('simulated failure at offset 30');
        }
        // First pass: commit up to 10 once, then return without committing.
        if (offsets.includes(9)) await control.commit('10');
        return;
      }
      await control.commit(String(offsets.at(-1)! + 1));
    });
    try {
      await waitFor(async () => (await f.committed(group, topic)).get(0) === '40', 'commit of all 40');
    } finally {
      await source.stop();
    }
    const failed = batches.findIndex((b) => b.includes(30));
    expect(failed).toBeGreaterThan(1);
    expect(batches[failed + 1]![0]).toBe(10);
    expect(batches.slice(failed + 1).flat()).toEqual(Array.from({ length: 30 }, (_, i) => i + 10));
  });

  it('stop lets the batch in hand finish and commit, then delivers nothing more', async () => {
    const f = fixture();
    const topic = await f.createTopic('drain', 1);
    const group = f.groupId('drain');
    await f.produce(topic, numbered(30), true);
    let stopping: Promise<void> | undefined;
    const seen: number[][] = [];
    const runningAtEnd: boolean[] = [];
    const source = f.source(group, [topic], { smallBatches: true });
    await source.start(async (batch, control) => {
      seen.push(batch.messages.map((m) => Number(m.offset)));
      if (stopping === undefined) {
        expect(control.isRunning()).toBe(true);
        stopping = source.stop();
        await waitFor(() => !control.isRunning(), 'isRunning() to turn false');
        await new Promise((r) => setTimeout(r, 100));
      }
      runningAtEnd.push(control.isRunning());
      await control.commit(String(Number(batch.messages.at(-1)!.offset) + 1));
    });
    await waitFor(() => stopping !== undefined, 'the first batch');
    await stopping;
    expect(seen.length).toBe(1);
    expect(runningAtEnd).toEqual([false]);
    expect((await f.committed(group, topic)).get(0)).toBe(String(seen[0]!.at(-1)! + 1));
    expect(source.assignments().size).toBe(0);
  });

  it('reports its assignment and lag, and handles several partitions at once when asked', async () => {
    const f = fixture();
    const topic = await f.createTopic('concurrent', 4);
    const group = f.groupId('concurrent');
    const messages = keyed(20, 5);
    await f.produce(topic, messages);
    let inHandler = 0;
    let maxInHandler = 0;
    let handled = 0;
    const source = f.source(group, [topic], { concurrency: 4 });
    await source.start(async (batch, control) => {
      inHandler += 1;
      maxInHandler = Math.max(maxInHandler, inHandler);
      // Long enough for the other partitions' batches to arrive meanwhile.
      await new Promise((r) => setTimeout(r, 150));
      inHandler -= 1;
      await control.commit(String(Number(batch.messages.at(-1)!.offset) + 1));
      handled += batch.messages.length;
    });
    try {
      expect(source.assignments()).toEqual(new Map([[topic, [0, 1, 2, 3]]]));
      await waitFor(() => handled >= messages.length, 'all messages');
      const lag = source.lag?.() ?? [];
      expect(lag.map((l) => l.partition).sort()).toEqual([0, 1, 2, 3]);
      for (const l of lag) {
        expect(l.lag).toBe(0);
        expect(l.committed).toBe(l.highWatermark);
      }
      expect(lag.reduce((n, l) => n + Number(l.highWatermark), 0)).toBe(messages.length);
    } finally {
      await source.stop();
    }
    expect(maxInHandler).toBeGreaterThan(1);
  });
}
