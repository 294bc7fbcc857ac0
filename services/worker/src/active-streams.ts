/**
 * Streams this worker stepped recently, per model, for the
 * `streamcell_active_streams` gauge. Workers keep no state of their own, but
 * a stream's partition has one owner at a time, so the sum over workers is
 * the number of streams that sent an event within the window (a stream that
 * moved in a rebalance counts twice until it ages out of its old worker).
 *
 * A Map keeps insertion order; touching deletes and re-inserts, so the
 * oldest entry is always first and pruning stops at the first fresh one:
 * O(expired) per prune, one Map write per stream per batch.
 */
export class ActiveStreams {
  readonly #windowMs: number;
  readonly #byModel = new Map<string, Map<string, number>>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Records that `stream` of `model` was stepped at `now`. */
  touch(model: string, stream: string, now: number): void {
    let streams = this.#byModel.get(model);
    if (streams === undefined) {
      streams = new Map();
      this.#byModel.set(model, streams);
    }
    streams.delete(stream);
    streams.set(stream, now);
  }

  /** Forgets a stream whose state was deleted (`end`). */
  forget(model: string, stream: string): void {
    this.#byModel.get(model)?.delete(stream);
  }

  /** Drops streams idle for longer than the window and returns the count per model (0 for models seen before). */
  counts(now: number): Map<string, number> {
    const result = new Map<string, number>();
    for (const [model, streams] of this.#byModel) {
      for (const [stream, seen] of streams) {
        if (now - seen <= this.#windowMs) break;
        streams.delete(stream);
      }
      result.set(model, streams.size);
    }
    return result;
  }
}
