import { describe, expect, it } from 'vitest';
import { SourceSet } from '../src/source-set.ts';
import type { BatchHandler, PartitionLag, Source } from '../src/types.ts';

/** A source that records what was asked of it. */
function fakeSource(name: string, opts: { assignments?: Record<string, number[]>; lag?: PartitionLag[]; failStart?: boolean; failStop?: boolean } = {}) {
  const calls: string[] = [];
  let handler: BatchHandler | undefined;
  const source: Source & { calls: string[]; handler: () => BatchHandler | undefined } = {
    calls,
    handler: () => handler,
    start: (h) => {
      calls.push('start');
      handler = h;
      return opts.failStart ? Promise.reject(new Error(`${name} cannot start`)) : Promise.resolve();
    },
    stop: () => {
      calls.push('stop');
      return opts.failStop ? Promise.reject(new Error(`${name} cannot stop`)) : Promise.resolve();
    },
    assignments: () => new Map(Object.entries(opts.assignments ?? {})),
    ...(opts.lag === undefined ? {} : { lag: () => opts.lag! }),
  };
  return source;
}

const lagOf = (partition: number): PartitionLag => ({ topic: 'events', partition, highWatermark: '10', committed: '4', lag: 6 });

describe('SourceSet', () => {
  it('starts every source with the one handler, and stops them all', async () => {
    const a = fakeSource('a');
    const b = fakeSource('b');
    const set = new SourceSet([a, b]);
    const handler: BatchHandler = () => Promise.resolve();
    await set.start(handler);
    expect(a.handler()).toBe(handler);
    expect(b.handler()).toBe(handler);
    await set.stop();
    expect(a.calls).toEqual(['start', 'stop']);
    expect(b.calls).toEqual(['start', 'stop']);
  });

  it('stops the sources that started when another cannot, and rethrows', async () => {
    const a = fakeSource('a');
    const b = fakeSource('b', { failStart: true });
    const c = fakeSource('c');
    await expect(new SourceSet([a, b, c]).start(() => Promise.resolve())).rejects.toThrow('b cannot start');
    expect(a.calls).toEqual(['start', 'stop']);
    expect(b.calls).toEqual(['start']);
    expect(c.calls).toEqual(['start', 'stop']);
  });

  it('stops every source even when one fails to, then reports the failure', async () => {
    const a = fakeSource('a', { failStop: true });
    const b = fakeSource('b');
    await expect(new SourceSet([a, b]).stop()).rejects.toThrow('a cannot stop');
    expect(b.calls).toEqual(['stop']);
  });

  it('merges assignments by topic in order, and concatenates lag', () => {
    const a = fakeSource('a', { assignments: { events: [4, 0], other: [1] }, lag: [lagOf(0), lagOf(4)] });
    const b = fakeSource('b', { assignments: { events: [2, 3] } });
    const c = fakeSource('c', { assignments: { events: [1] }, lag: [lagOf(1)] });
    const set = new SourceSet([a, b, c]);
    expect(Object.fromEntries(set.assignments())).toEqual({ events: [0, 1, 2, 3, 4], other: [1] });
    expect(set.lag().map((l) => l.partition)).toEqual([0, 4, 1]);
  });

  it('needs at least one source', () => {
    expect(() => new SourceSet([])).toThrow(RangeError);
  });
});
