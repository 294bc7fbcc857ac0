/**
 * Several sources run as one: the same handler for every batch any of them
 * hands over. The worker uses it for KAFKA_CONSUMERS > 1, several kafkajs
 * consumers in one process, each a member of the group with its share of the
 * partitions. kafkajs fetches again only when every batch of its last fetch is
 * done; with two consumers one fetches while the other's batches still run,
 * so a process draining a backlog waits less (docs/benchmarks.md).
 */
import type { BatchHandler, PartitionLag, Source } from './types.ts';

export class SourceSet implements Source {
  readonly #sources: readonly Source[];

  constructor(sources: readonly Source[]) {
    if (sources.length === 0) throw new RangeError('a SourceSet needs at least one source');
    this.#sources = sources;
  }

  /** Starts every source; when one cannot start, stops those that did and rethrows its error. */
  async start(handler: BatchHandler): Promise<void> {
    const started = await Promise.allSettled(this.#sources.map((s) => s.start(handler)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed === undefined) return;
    await Promise.allSettled(this.#sources.filter((_, i) => started[i]!.status === 'fulfilled').map((s) => s.stop()));
    throw failed.reason;
  }

  /** Stops every source (each finishes its batches in hand); rethrows the first failure once all are done. */
  async stop(): Promise<void> {
    const stopped = await Promise.allSettled(this.#sources.map((s) => s.stop()));
    const failed = stopped.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  /** Every source's partitions, by topic, in ascending order. */
  assignments(): ReadonlyMap<string, readonly number[]> {
    const merged = new Map<string, number[]>();
    for (const s of this.#sources) {
      for (const [topic, partitions] of s.assignments()) {
        const list = merged.get(topic);
        if (list === undefined) merged.set(topic, [...partitions]);
        else list.push(...partitions);
      }
    }
    for (const list of merged.values()) list.sort((a, b) => a - b);
    return merged;
  }

  lag(): readonly PartitionLag[] {
    return this.#sources.flatMap((s) => s.lag?.() ?? []);
  }
}
