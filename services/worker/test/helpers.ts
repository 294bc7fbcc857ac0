/** Test wiring for the pipeline: real models and kernel, in-memory state and a recording sink. */
import { fileURLToPath } from 'node:url';
import { weatherOnlyModelsDir } from '../../../test/support/models.ts';
import { MemoryStateStore } from '@streamcell/state';
import { isPacked, unpackMessages, type BatchControl, type InboundBatch, type OutboundRecords, type Sink, type SinkRecords } from '@streamcell/streams';
import { createLogger, createWorkerMetrics, type WorkerMetrics } from '@streamcell/telemetry';
import { loadConfig } from '../src/config.ts';
import { ModelRegistry } from '../src/models.ts';
import { BatchPipeline, type PipelineConfig } from '../src/pipeline.ts';
import { StepRunner } from '../src/step-runner.ts';

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The models the pipeline tests serve: models/weather/1 alone (see test/support/models.ts). */
export const MODELS_DIR = weatherOnlyModelsDir();

/** A sink that keeps what it was given (packed messages unpacked, in their order). */
export class RecordingSink implements Sink {
  readonly sent: OutboundRecords[] = [];
  failNext = false;
  connect(): Promise<void> {
    return Promise.resolve();
  }
  send(records: readonly SinkRecords[]): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error('broker unavailable'));
    }
    for (const r of records) this.sent.push(isPacked(r) ? { topic: r.topic, messages: unpackMessages(r) } : r);
    return Promise.resolve();
  }
  disconnect(): Promise<void> {
    return Promise.resolve();
  }
  messages(topic: string): { key: string; value: Buffer; headers: Record<string, string> }[] {
    return this.sent
      .filter((r) => r.topic === topic)
      .flatMap((r) => r.messages.map((m) => ({ key: String(m.key), value: m.value as Buffer, headers: { ...(m.headers ?? {}) } })));
  }
  forecasts(topic = 'forecasts'): Record<string, unknown>[] {
    return this.messages(topic).map((m) => JSON.parse(m.value.toString()) as Record<string, unknown>);
  }
}

/** A control that records commits. */
export function recordingControl(): BatchControl & { commits: string[]; stale: boolean } {
  const c = {
    commits: [] as string[],
    stale: false,
    heartbeat: () => Promise.resolve(),
    isRunning: () => true,
    isStale: () => c.stale,
    commit: (offset: string) => {
      c.commits.push(offset);
      return Promise.resolve();
    },
  };
  return c;
}

let nextOffset = 0;

/** A batch of events (objects are JSON-encoded; strings and Buffers are sent as they are). */
export function batchOf(events: { key: string | null; value: unknown; timestamp?: number }[], options: { topic?: string; partition?: number; firstOffset?: number } = {}): InboundBatch {
  const topic = options.topic ?? 'events';
  const partition = options.partition ?? 0;
  let offset = options.firstOffset ?? nextOffset;
  const messages = events.map((e) => ({
    topic,
    partition,
    offset: String(offset++),
    key: e.key === null ? null : Buffer.from(e.key),
    value: Buffer.isBuffer(e.value) ? e.value : Buffer.from(typeof e.value === 'string' ? e.value : JSON.stringify(e.value)),
    timestamp: e.timestamp ?? 1_700_000_000_000,
    headers: {},
  }));
  nextOffset = offset;
  return { topic, partition, messages, highWatermark: String(offset) };
}

/**
 * Where the harness' pipelines run their step jobs: in the test's thread, or
 * (`thread: true`) every job in a step thread; closed by `closeHarnessSteps`.
 */
export const harnessSteps = { thread: false };
const openRunners: StepRunner[] = [];

/** Stops the step threads of the pipelines made so far. */
export async function closeHarnessSteps(): Promise<void> {
  await Promise.all(openRunners.splice(0).map((r) => r.close()));
}

/** A pipeline over the repository's models with an in-memory store. */
export async function pipelineHarness(overrides: Partial<PipelineConfig> = {}, store = new MemoryStateStore()): Promise<{
  pipeline: BatchPipeline;
  sink: RecordingSink;
  store: MemoryStateStore;
  metrics: WorkerMetrics;
  registry: ModelRegistry;
  steps: StepRunner;
}> {
  const config = { ...loadConfig({ MODELS_DIR }), ...overrides };
  const metrics = createWorkerMetrics({ defaultMetrics: false });
  const log = createLogger({ name: 'test', level: 'silent' });
  const registry = new ModelRegistry({ dir: MODELS_DIR, maxBatch: 64, log, metrics });
  await registry.scan();
  const sink = new RecordingSink();
  const steps = new StepRunner({ thread: harnessSteps.thread, minThreadEvents: 1, log });
  openRunners.push(steps);
  const pipeline = new BatchPipeline({ store, sink, models: () => registry.snapshot(), metrics, log, config, steps });
  return { pipeline, sink, store, metrics, registry, steps };
}

/** The value of a counter with the given labels (0 when never incremented). */
export async function counter(metrics: WorkerMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

/** Count and sum of an unlabelled histogram. */
export async function histogramCount(metrics: WorkerMetrics, name: string): Promise<{ count: number; sum: number }> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  // A histogram's values carry the name of their series (…_bucket, …_sum, …_count).
  const values = (m?.values ?? []) as { value: number; metricName?: string }[];
  const value = (suffix: string): number => values.find((x) => x.metricName === `${name}_${suffix}`)?.value ?? 0;
  return { count: value('count'), sum: value('sum') };
}
