import { describe, expect, it } from 'vitest';
import { createLogger, createWorkerMetrics } from '@streamcell/telemetry';
import { MemoryStateStore } from '@streamcell/state';
import { loadConfig } from '../src/config.ts';
import { ActiveStreams } from '../src/active-streams.ts';
import { ModelRegistry } from '../src/models.ts';
import { BatchPipeline } from '../src/pipeline.ts';
import { MODELS_DIR, RecordingSink, batchOf, recordingControl } from './helpers.ts';

describe('ActiveStreams', () => {
  it('counts each stream once per model while it is within the window, and forgets it after', () => {
    const active = new ActiveStreams(1000);
    active.touch('weather', 'a', 0);
    active.touch('weather', 'b', 100);
    active.touch('weather', 'a', 600);
    active.touch('sensor', 'a', 700);
    expect(active.counts(700)).toEqual(new Map([['weather', 2], ['sensor', 1]]));
    // b was last seen at 100: gone at 1,101; a (600) stays until 1,600.
    expect(active.counts(1101)).toEqual(new Map([['weather', 1], ['sensor', 1]]));
    expect(active.counts(1701)).toEqual(new Map([['weather', 0], ['sensor', 0]]));
  });

  it('drops a stream that ended', () => {
    const active = new ActiveStreams(1000);
    active.touch('m', 'x', 0);
    active.touch('m', 'y', 0);
    active.forget('m', 'x');
    expect(active.counts(10).get('m')).toBe(1);
  });
});

describe('BatchPipeline and active streams', () => {
  it('reports the streams with valid events, not the rejected ones, and not a stream that sent end', async () => {
    const config = loadConfig({ MODELS_DIR });
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    const log = createLogger({ name: 'test', level: 'silent' });
    const registry = new ModelRegistry({ dir: MODELS_DIR, maxBatch: 64, log, metrics });
    await registry.scan();
    const active = new ActiveStreams(60_000);
    let now = 1_000_000;
    const pipeline = new BatchPipeline({ store: new MemoryStateStore(), sink: new RecordingSink(), models: () => registry.snapshot(), metrics, log, config, activeStreams: active, now: () => now });
    const values = { precipitation: 0, temp_max: 10, temp_min: 5, wind: 3 };
    await pipeline.handle(
      batchOf([
        { key: 's1', value: { stream: 's1', ts: 1, values } },
        { key: 's2', value: { stream: 's2', ts: 1, values } },
        { key: 's2', value: { stream: 's2', ts: 2, values } },
        { key: 'bad', value: { stream: 'bad', ts: 1, values: { nope: 1 } } },
        { key: 'gone', value: { stream: 'gone', ts: 1, values, end: true } },
      ]),
      recordingControl(),
    );
    expect(active.counts(now)).toEqual(new Map([['weather', 2]]));
    now += 61_000;
    expect(active.counts(now)).toEqual(new Map([['weather', 0]]));
  });
});
