import { Histogram, type HistogramConfiguration } from 'prom-client';

/** What prom-client 15 keeps per label set of a histogram (lib/histogram.js). */
interface Entry {
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/**
 * A prom-client histogram without labels that can also take many
 * observations in one call. `observe` allocates a closure and two objects
 * per value; the worker observes two latencies for every event it forecasts,
 * and was spending more on that than on its Redis calls. {@link observeMany}
 * counts a batch into its buckets here and adds the counts to the same
 * series prom-client exposes, so scrapes, `reset` and the registry are
 * prom-client's own. It reads prom-client's per-series record, which is not
 * public API: the package's tests compare it with `observe` value by value,
 * so a prom-client update that changes the record fails there.
 */
export class BulkHistogram extends Histogram {
  /** Upper bounds, rising (prom-client's `le` values, +Inf aside). */
  readonly #bounds: Float64Array;
  readonly #counts: Float64Array;

  constructor(config: Omit<HistogramConfiguration<string>, 'labelNames' | 'enableExemplars'> & { buckets: readonly number[] }) {
    super({ ...config, buckets: [...config.buckets] });
    // prom-client takes its buckets as given and finds a value's with the first bound at or above it.
    for (let i = 1; i < config.buckets.length; i++) {
      if (!(config.buckets[i]! > config.buckets[i - 1]!)) throw new RangeError(`${config.name}: buckets must rise: ${config.buckets.join(', ')}`);
    }
    this.#bounds = Float64Array.from(config.buckets);
    this.#counts = new Float64Array(this.#bounds.length);
  }

  /** Observes `values[0..n)`, as `observe` would one by one. Throws, observing none, if one is not finite. */
  observeMany(values: Float64Array, n: number): void {
    if (n <= 0) return;
    const bounds = this.#bounds;
    const counts = this.#counts.fill(0);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) throw new TypeError(`Value is not a valid number: ${v}`);
      sum += v;
      // Most latencies fall in the first buckets: a linear search, as prom-client's own.
      let b = 0;
      while (b < bounds.length && v > bounds[b]!) b++;
      if (b < bounds.length) counts[b]! += 1;
    }
    const entry = this.#series();
    for (let b = 0; b < bounds.length; b++) if (counts[b]! > 0) entry.bucketValues[bounds[b]!]! += counts[b]!;
    entry.sum += sum;
    entry.count += n;
  }

  /** The one series of this unlabelled histogram, made the way `zero` makes it when a reset left none. */
  #series(): Entry {
    const map = (this as unknown as { hashMap: Record<string, Entry | undefined> }).hashMap;
    for (const key in map) {
      const entry = map[key];
      if (entry !== undefined) return entry;
    }
    this.zero({});
    for (const key in map) return map[key]!;
    throw new Error('prom-client kept no series after zero(): its histogram record changed');
  }
}
