import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BulkHistogram } from '../src/index.ts';

const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

function pair(): { one: Histogram; bulk: BulkHistogram; oneRegistry: Registry; bulkRegistry: Registry } {
  const oneRegistry = new Registry();
  const bulkRegistry = new Registry();
  const config = { name: 'latency_seconds', help: 'h', buckets };
  return {
    one: new Histogram({ ...config, registers: [oneRegistry] }),
    bulk: new BulkHistogram({ ...config, registers: [bulkRegistry] }),
    oneRegistry,
    bulkRegistry,
  };
}

describe('BulkHistogram', () => {
  it('exposes the same series as observing the values one by one', async () => {
    const { one, bulk, oneRegistry, bulkRegistry } = pair();
    const values = Float64Array.from({ length: 5000 }, (_, i) => (((i * 7919) % 16384) / 4096) * (i % 3 === 0 ? 0.001 : 1));
    values[10] = 0.005; // on a bound: counted in it (le is "less or equal")
    values[11] = 1e9; // above every bound: only in +Inf
    for (const v of values) one.observe(v);
    bulk.observeMany(values.subarray(0, 3000), 3000);
    bulk.observeMany(values.subarray(3000), 2000);
    bulk.observeMany(values, 0);
    const text = await bulkRegistry.metrics();
    const expected = await oneRegistry.metrics();
    // The sum is added up in another order: the same to rounding.
    const sum = (t: string): number => Number(/latency_seconds_sum (\S+)/.exec(t)![1]);
    const withoutSum = (t: string): string => t.replace(/latency_seconds_sum \S+/, '');
    expect(withoutSum(text)).toBe(withoutSum(expected));
    expect(sum(text)).toBeCloseTo(sum(expected), 3);
    expect(sum(text)).toBeGreaterThan(1e9);
    expect(text).toContain('latency_seconds_count 5000');
    expect(text).toContain('latency_seconds_bucket{le="0.005"} ');
    // Only the first n values count.
    const { one: one2, bulk: bulk2, oneRegistry: r1, bulkRegistry: r2 } = pair();
    for (const v of values.subarray(0, 7)) one2.observe(v);
    bulk2.observeMany(values, 7);
    expect(await r2.metrics()).toBe(await r1.metrics());
  });

  it('starts afresh after reset, and mixes with observe', async () => {
    const { one, bulk, oneRegistry, bulkRegistry } = pair();
    bulk.observeMany(Float64Array.of(0.5, 3), 2);
    bulk.reset();
    one.observe(0.25);
    bulk.observe(0.25);
    one.observe(0.0625);
    one.observe(4);
    bulk.observeMany(Float64Array.of(0.0625, 4), 2);
    expect(await bulkRegistry.metrics()).toBe(await oneRegistry.metrics());
  });

  it('refuses buckets that do not rise', () => {
    expect(() => new BulkHistogram({ name: 'bad_seconds', help: 'h', buckets: [0.1, 0.05], registers: [] })).toThrow(/buckets must rise/);
  });

  it('refuses a value that is not finite, as observe does, and counts none of the batch', async () => {
    const { bulk, bulkRegistry } = pair();
    expect(() => bulk.observeMany(Float64Array.of(0.1, Number.NaN), 2)).toThrow(TypeError);
    expect(() => bulk.observe(Number.NaN)).toThrow(TypeError);
    expect(await bulkRegistry.metrics()).toContain('latency_seconds_count 0');
  });
});
