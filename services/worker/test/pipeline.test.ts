import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadModel } from '@streamcell/model';
import { predictRows } from '@streamcell/cli';
import { DEAD_LETTER_HEADERS, EventScanner, IDEMPOTENCY_HEADER, StreamcellError } from '@streamcell/protocol';
import { MemoryStateStore, decodeRecord, stateKey, type SaveResult, type StateWrite } from '@streamcell/state';
import type { InboundBatch } from '@streamcell/streams';
import { createLogger, createWorkerMetrics } from '@streamcell/telemetry';
import { ModelRegistry } from '../src/models.ts';
import { GROUP_EVENTS, sharedFailure } from '../src/pipeline.ts';
import { MODELS_DIR, REPO_ROOT, batchOf, closeHarnessSteps, counter, harnessSteps, histogramCount, type RecordingSink, pipelineHarness, recordingControl } from './helpers.ts';

const FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind'] as const;
let weather: number[][] = [];

beforeAll(async () => {
  const csv = await readFile(join(REPO_ROOT, 'node_modules', 'vega-datasets', 'data', 'seattle-weather.csv'), 'utf8');
  const [header, ...lines] = csv.trim().split('\n');
  const cols = header!.split(',');
  weather = lines.map((l) => {
    const cells = l.split(',');
    return FEATURES.map((f) => Number(cells[cols.indexOf(f)]));
  });
});

const DAY = 86_400_000;
const T0 = Date.UTC(2012, 0, 1);
function event(stream: string, i: number, extra: Record<string, unknown> = {}): { key: string; value: unknown } {
  const row = weather[i % weather.length]!;
  return { key: stream, value: { stream, ts: T0 + i * DAY, values: Object.fromEntries(FEATURES.map((f, j) => [f, row[j]])), ...extra } };
}

/** The forecasts `streamcell predict` prints for n weather rows from `from` (float32 precision, as published). */
async function offline(n: number, from = 0): Promise<number[][]> {
  const model = await loadModel(join(MODELS_DIR, 'weather', '1'));
  const rows = Array.from({ length: n }, (_, i) => ({ line: i + 1, values: Float64Array.from(weather[(from + i) % weather.length]!) }));
  const out: number[][] = [];
  for await (const step of predictRows(model, rows)) out.push(step.forecast);
  return out;
}

function flat(forecast: unknown): number[] {
  return (forecast as Record<string, number>[]).flatMap((step) => [step.temp_max!, step.temp_min!]);
}

describe.each([
  ['step jobs in this thread', false],
  ['step jobs in a step thread', true],
])('BatchPipeline, %s', (_, thread) => {
  beforeAll(() => {
    harnessSteps.thread = thread;
  });
  afterAll(async () => {
    harnessSteps.thread = false;
    await closeHarnessSteps();
  });

  it('publishes for every stream exactly the forecasts `streamcell predict` computes, whatever the batching', async () => {
    const { pipeline, sink, steps } = await pipelineHarness();
    const streams = ['a', 'b', 'c', 'd', 'e'];
    const events = [];
    for (let i = 0; i < 30; i++) for (const [s, stream] of streams.entries()) events.push(event(stream, i + s * 100));
    // Uneven batches, so streams are stepped at different positions and batch sizes.
    const cuts = [0, 7, 8, 40, 41, 97, 150];
    for (let c = 0; c + 1 < cuts.length; c++) {
      const control = recordingControl();
      const batch = batchOf(events.slice(cuts[c], cuts[c + 1]));
      await pipeline.handle(batch, control);
      expect(control.commits).toEqual([String(Number(batch.messages.at(-1)!.offset) + 1)]);
    }
    const published = sink.forecasts();
    expect(published).toHaveLength(150);
    for (const [s, stream] of streams.entries()) {
      const mine = published.filter((f) => f.stream === stream);
      const expected = await offline(30, s * 100);
      expect(mine.map((f) => flat(f.forecast))).toEqual(expected);
      expect(mine[0]).not.toHaveProperty('error');
      expect(mine[1]).toHaveProperty('error');
      expect(mine[1]!.model).toEqual({ name: 'weather', version: '1' });
    }
    // Every batch's job ran where this block says.
    expect(steps.threadJobs).toBe(thread ? cuts.length - 1 : 0);
  });

  it('forecasts an event the same whether the scanner reads it or decodeEvent does', async () => {
    // The same events twice: as JSON.stringify writes them (the scanner's shape), and with a
    // field of the producer's own holding escapes, which the scanner leaves to decodeEvent.
    const plain = [];
    const escaped = [];
    for (let i = 0; i < 12; i++) {
      for (const stream of ['p', 'q']) {
        const e = event(stream, i + (stream === 'q' ? 50 : 0), { reset: i === 5, end: i === 9 && stream === 'p' });
        plain.push({ key: e.key, value: JSON.stringify(e.value) });
        escaped.push({ key: e.key, value: JSON.stringify({ note: 'a "quoted"\nline', ...(e.value as object) }) });
      }
    }
    const published = [];
    const scanned = [];
    const scan = vi.spyOn(EventScanner.prototype, 'scan');
    try {
      for (const events of [plain, escaped]) {
        const { pipeline, sink } = await pipelineHarness();
        scan.mockClear();
        await pipeline.handle(batchOf(events, { firstOffset: 1000 }), recordingControl());
        published.push(sink.sent.flatMap((r) => r.messages.map((m) => [m.key, String(m.value)])));
        scanned.push(scan.mock.results.filter((r) => r.value === true).length);
      }
    } finally {
      scan.mockRestore();
    }
    // The first ran on the scanner's path, the second on decodeEvent's, with the same result.
    expect(scanned).toEqual([24, 0]);
    expect(published[0]).toHaveLength(24);
    expect(published[1]).toEqual(published[0]);
  });

  it('skips events already in the saved state when a batch is delivered again', async () => {
    const { pipeline, sink, store, metrics } = await pipelineHarness();
    const batch = batchOf(Array.from({ length: 10 }, (_, i) => event('r', i)));
    await pipeline.handle(batch, recordingControl());
    const key = stateKey('streamcell:', 'weather', 'r');
    const [before] = await store.load([key]);
    const control = recordingControl();
    await pipeline.handle(batch, control);
    expect(sink.forecasts()).toHaveLength(10);
    expect(await store.load([key])).toEqual([before]);
    expect(await counter(metrics, 'streamcell_replayed_events_skipped_total')).toBe(10);
    expect(control.commits).toHaveLength(1);
  });

  it('turns every kind of bad event into a dead letter with its code, and forecasts the good ones', async () => {
    const { pipeline, sink, metrics } = await pipelineHarness();
    const good = (i: number): { key: string; value: unknown } => event('g', i);
    const bad: [string, { key: string | null; value: unknown }][] = [
      ['malformed_json', { key: 'g', value: '{"stream":' }],
      ['schema', { key: 'g', value: { stream: 'g', ts: T0, values: 'warm' } }],
      ['wrong_dimension', { key: 'g', value: { stream: 'g', ts: T0 + 20 * DAY, values: [1, 2, 3] } }],
      ['unknown_feature', { key: 'g', value: { stream: 'g', ts: T0 + 20 * DAY, values: { precipitation: 0, temp_max: 1, temp_min: 0, wind: 2, snow: 1 } } }],
      ['non_finite', { key: 'g', value: '{"stream":"g","values":[0,1e999,0,1]}' }],
      ['stream_id_invalid', { key: null, value: { stream: '', values: [0, 1, 0, 1] } }],
      ['unknown_model', { key: 'g', value: { stream: 'g', model: 'nope', values: [0, 1, 0, 1] } }],
      ['too_large', { key: 'g', value: { stream: 'g', values: [0, 1, 0, 1], pad: 'x'.repeat(70_000) } }],
      ['out_of_order', { key: 'g', value: { stream: 'g', ts: T0 - DAY, values: [0, 1, 0, 1] } }],
    ];
    const events = [good(0), ...bad.map(([, e], i) => [e, good(i + 1)]).flat()] as { key: string | null; value: unknown }[];
    const control = recordingControl();
    await pipeline.handle(batchOf(events), control);
    expect(sink.forecasts()).toHaveLength(bad.length + 1);
    const dl = sink.messages('events.dlq');
    expect(dl.map((m) => m.headers[DEAD_LETTER_HEADERS.code])).toEqual(bad.map(([code]) => code));
    for (const [code] of bad) expect(await counter(metrics, 'streamcell_dead_letters_total', { code })).toBe(1);
    expect(control.commits).toHaveLength(1);
  });

  it('accepts late events when configured to', async () => {
    const { pipeline, sink } = await pipelineHarness({ acceptOutOfOrder: true });
    await pipeline.handle(batchOf([event('late', 5), event('late', 2)]), recordingControl());
    expect(sink.forecasts()).toHaveLength(2);
    expect(sink.messages('events.dlq')).toHaveLength(0);
  });

  it('zeroes the state on reset and deletes it on end', async () => {
    const { pipeline, sink, store } = await pipelineHarness();
    const fresh = await offline(3, 50);
    await pipeline.handle(batchOf([event('z', 0), event('z', 1), event('z', 50, { reset: true }), event('z', 51), event('z', 52, { end: true })]), recordingControl());
    const mine = sink.forecasts().map((f) => flat(f.forecast));
    expect(mine.slice(2)).toEqual(fresh);
    expect(await store.load([stateKey('streamcell:', 'weather', 'z')])).toEqual([null]);
  });

  it('starts a stream afresh after its end within a batch: an earlier event time is not late, and the saved record is the new life\'s', async () => {
    const { pipeline, sink, store } = await pipelineHarness();
    await pipeline.handle(batchOf([event('w', 40), event('w', 41, { end: true }), event('w', 5), event('w', 6)]), recordingControl());
    expect(sink.messages('events.dlq')).toEqual([]);
    expect(sink.forecasts().map((f) => flat(f.forecast)).slice(2)).toEqual(await offline(2, 5));
    const [saved] = await store.load([stateKey('streamcell:', 'weather', 'w')]);
    const rec = decodeRecord(saved!);
    expect(typeof rec === 'string' ? rec : [rec.steps, rec.lastEventTs]).toEqual([2, T0 + 6 * DAY]);
  });

  it('reloads and redoes a stream whose state another worker saved meanwhile, applying each event once', async () => {
    // What the other worker saved: events 0..9 of the stream.
    const other = await pipelineHarness();
    const events = Array.from({ length: 20 }, (_, i) => event('x', i));
    const first = batchOf(events.slice(0, 10), { firstOffset: 1000 });
    await other.pipeline.handle(first, recordingControl());
    const key = stateKey('streamcell:', 'weather', 'x');
    const [theirs] = await other.store.load([key]);

    class RacingStore extends MemoryStateStore {
      raced = false;
      override async save(writes: readonly StateWrite[], ttlMs: number): ReturnType<MemoryStateStore['save']> {
        if (!this.raced) {
          this.raced = true;
          await super.save([{ key, expectGuard: null, value: theirs! }], ttlMs);
        }
        return super.save(writes, ttlMs);
      }
    }
    const racing = new RacingStore();
    const h = await pipelineHarness({}, racing);
    await h.pipeline.handle(batchOf(events, { firstOffset: 1000 }), recordingControl());
    expect(await counter(h.metrics, 'streamcell_state_conflicts_total')).toBe(1);

    const reference = await pipelineHarness();
    await reference.pipeline.handle(batchOf(events, { firstOffset: 1000 }), recordingControl());
    const [ours] = await racing.load([key]);
    const [want] = await reference.store.load([key]);
    expect(ours).toEqual(want);
    expect(decodeRecord(ours!)).toMatchObject({ offset: 1019, steps: 20 });
  });

  it('gives the batch back uncommitted when the forecasts cannot be published', async () => {
    const { pipeline, sink, store } = await pipelineHarness();
    sink.failNext = true;
    const control = recordingControl();
    await expect(pipeline.handle(batchOf([event('f', 0)]), control)).rejects.toThrow('broker unavailable');
    expect(control.commits).toEqual([]);
    expect(await store.load([stateKey('streamcell:', 'weather', 'f')])).toEqual([null]);
  });

  it('publishes the dead letters of a batch in which no event is valid, before committing it', async () => {
    const { pipeline, sink } = await pipelineHarness();
    const control = recordingControl();
    const batch = batchOf([
      { key: 'x', value: 'not json' },
      { key: 'x', value: { stream: 'x', values: [1] } },
    ]);
    await pipeline.handle(batch, control);
    expect(sink.messages('events.dlq').map((m) => m.headers[DEAD_LETTER_HEADERS.code])).toEqual(['malformed_json', 'wrong_dimension']);
    expect(control.commits).toEqual([String(Number(batch.messages.at(-1)!.offset) + 1)]);
  });

  it('scores forecasts against what arrives and the persistence forecast beside them', async () => {
    const { pipeline, metrics } = await pipelineHarness();
    await pipeline.handle(batchOf(Array.from({ length: 10 }, (_, i) => event('s', i))), recordingControl());
    // 10 events, horizon 3: step k is scored 10 - k times.
    for (const step of ['1', '2', '3']) {
      expect(await counter(metrics, 'streamcell_forecasts_scored_total', { step, target: 'temp_max' })).toBe(10 - Number(step));
      expect(await counter(metrics, 'streamcell_naive_abs_error_sum', { step, target: 'temp_max' })).toBeGreaterThan(0);
    }
  });

  describe('groups of batches', () => {
    /** A memory store that counts its round trips, and can be made to fail them. */
    class CountingStore extends MemoryStateStore {
      loads = 0;
      saves = 0;
      failLoads = false;
      override load(keys: readonly string[]): Promise<(Buffer | null)[]> {
        this.loads += 1;
        return this.failLoads ? Promise.reject(new StreamcellError('redis_unavailable', 'Redis MGET failed: connection refused', { retriable: true })) : super.load(keys);
      }
      override save(writes: readonly StateWrite[], ttlMs: number): Promise<SaveResult[]> {
        this.saves += 1;
        return super.save(writes, ttlMs);
      }
    }

    /** Events of `streams`, `n` each from row `from`, interleaved. */
    const eventsOf = (streams: readonly string[], n: number, from = 0): { key: string; value: unknown }[] =>
      Array.from({ length: n }, (_, i) => streams.map((s, k) => event(s, from + i + k * 100))).flat();

    it('sends the step job of a large group before the next group decodes, so that the step thread and this one work side by side', async () => {
      const order: string[] = [];
      class OrderStore extends MemoryStateStore {
        override load(keys: readonly string[]): Promise<(Buffer | null)[]> {
          order.push(`load ${keys[0]!.slice(-2, -1)}`);
          return super.load(keys);
        }
      }
      const { pipeline, steps } = await pipelineHarness({}, new OrderStore());
      const run = steps.run.bind(steps);
      steps.run = (model, job) => {
        order.push(`step ${job.streams[0]!.slice(-2, -1)}`);
        return run(model, job);
      };
      // Two backlog-sized batches (each over GROUP_EVENTS, so each its own group) handed over in one turn, as a fetch does.
      const names = (p: string): string[] => Array.from({ length: 10 }, (_, k) => `s${p}${k}`);
      const batches = [batchOf(eventsOf(names('a'), 110), { partition: 0 }), batchOf(eventsOf(names('b'), 110), { partition: 1 })];
      await Promise.all(batches.map((b) => pipeline.handle(b, recordingControl())));
      expect(order).toEqual(['load a', 'step a', 'load b', 'step b']);

      // A small group formed behind a large one that has not decoded yet waits for it; on its own it decodes at once.
      order.length = 0;
      const small = batchOf(eventsOf(names('c'), 2), { partition: 2 });
      await Promise.all([pipeline.handle(batchOf(eventsOf(names('a'), 110, 110), { partition: 0 }), recordingControl()), pipeline.handle(small, recordingControl())]);
      expect(order).toEqual(['load a', 'step a', 'load c', 'step c']);
      order.length = 0;
      await pipeline.handle(batchOf(eventsOf(names('c'), 2, 2), { partition: 2 }), recordingControl());
      expect(order).toEqual(['load c', 'step c']);
    });

    it('handles batches that arrive together as one group: one load, one send, one save, and each partition committed on its own', async () => {
      const store = new CountingStore();
      const { pipeline, sink, metrics } = await pipelineHarness({}, store);
      const sends: number[] = [];
      const send = sink.send.bind(sink);
      sink.send = (records) => {
        sends.push(records.length);
        return send(records);
      };
      // Four partitions, two topics; stream 'x' is on two partitions (a producer that did not key by stream).
      const batches = [
        batchOf(eventsOf(['p0a', 'p0b'], 3), { partition: 0 }),
        batchOf([...eventsOf(['p1a'], 2), event('x', 0), event('x', 1)], { partition: 1 }),
        batchOf([event('x', 2), ...eventsOf(['p2a'], 4)], { partition: 2 }),
        batchOf(eventsOf(['o3a'], 2), { topic: 'other', partition: 3 }),
      ];
      const controls = batches.map(() => recordingControl());
      await Promise.all(batches.map((b, i) => pipeline.handle(b, controls[i]!)));

      expect([store.loads, store.saves, sends.length]).toEqual([1, 1, 1]);
      expect(controls.map((c) => c.commits)).toEqual(batches.map((b) => [String(Number(b.messages.at(-1)!.offset) + 1)]));
      expect(await histogramCount(metrics, 'streamcell_batch_group_batches')).toEqual({ count: 1, sum: 4 });
      expect(await histogramCount(metrics, 'streamcell_batch_size_events')).toEqual({ count: 4, sum: 6 + 4 + 5 + 2 });
      // Every forecast names its own event's topic, partition and offset, also in its idempotency header.
      const sent = sink.messages('forecasts');
      expect(sent).toHaveLength(17);
      const consumed = new Set(batches.flatMap((b) => b.messages.map((m) => `${m.topic}/${m.partition}/${m.offset}`)));
      for (const m of sent) {
        const { source } = JSON.parse(m.value.toString()) as { source: { topic: string; partition: number; offset: string } };
        const id = `${source.topic}/${source.partition}/${source.offset}`;
        expect(m.headers[IDEMPOTENCY_HEADER]).toBe(id);
        expect(consumed.delete(id)).toBe(true);
      }
      expect(consumed.size).toBe(0);
      // The forecasts are those of each stream's sequence, 'x' across its two partitions included.
      const forecasts = sink.forecasts();
      const of = (stream: string): number[][] => forecasts.filter((f) => f.stream === stream).map((f) => flat(f.forecast));
      expect(of('p0b')).toEqual(await offline(3, 100));
      expect(of('p2a')).toEqual(await offline(4));
      expect(of('x')).toEqual(await offline(3));
    });

    it('gives the same forecasts and states as handling the batches one by one', async () => {
      const batchesOf = (round: number): InboundBatch[] =>
        [0, 1, 2, 3, 4, 5].map((p) => batchOf(eventsOf([`s${p}`, `t${p}`], 2 + p, 10 * p + 20 * round), { partition: p, firstOffset: 1000 + 100 * round }));
      const together = await pipelineHarness();
      const apart = await pipelineHarness();
      for (let round = 0; round < 3; round++) {
        await Promise.all(batchesOf(round).map((b) => together.pipeline.handle(b, recordingControl())));
        for (const b of batchesOf(round)) await apart.pipeline.handle(b, recordingControl());
      }
      // A group publishes in its step job's order (wave by wave), so the order differs across streams, not within one.
      const bySource = (sink: RecordingSink): Record<string, unknown>[] =>
        sink.forecasts().sort((x, y) => JSON.stringify(x.source).localeCompare(JSON.stringify(y.source)));
      expect(together.sink.forecasts()).toHaveLength(3 * 2 * (2 + 3 + 4 + 5 + 6 + 7));
      expect(bySource(together.sink)).toEqual(bySource(apart.sink));
      for (const s of ['s0', 't5']) {
        expect(together.sink.forecasts().filter((f) => f.stream === s)).toEqual(apart.sink.forecasts().filter((f) => f.stream === s));
      }
      const keys = [0, 1, 2, 3, 4, 5].flatMap((p) => [`s${p}`, `t${p}`]).map((s) => stateKey('streamcell:', 'weather', s));
      expect(await together.store.load(keys)).toEqual(await apart.store.load(keys));
      expect(await histogramCount(together.metrics, 'streamcell_batch_group_batches')).toEqual({ count: 3, sum: 18 });
      expect(await histogramCount(apart.metrics, 'streamcell_batch_group_batches')).toEqual({ count: 18, sum: 18 });
    });

    it('never puts two batches of one partition in a group: a redelivery alongside applies each event once', async () => {
      const { pipeline, sink, metrics, store } = await pipelineHarness();
      const first = batchOf(eventsOf(['r'], 5), { partition: 4, firstOffset: 50 });
      const again = batchOf(eventsOf(['r'], 5), { partition: 4, firstOffset: 50 });
      const controls = [recordingControl(), recordingControl()];
      await Promise.all([pipeline.handle(first, controls[0]!), pipeline.handle(again, controls[1]!)]);
      // Two groups. Whether the second loaded before the first saved (a conflict, reloaded) or after (replays skipped) depends on timing; either way each event is in the state once.
      expect(await histogramCount(metrics, 'streamcell_batch_group_batches')).toEqual({ count: 2, sum: 2 });
      expect(await counter(metrics, 'streamcell_replayed_events_skipped_total')).toBe(5);
      const alone = await pipelineHarness();
      await alone.pipeline.handle(batchOf(eventsOf(['r'], 5), { partition: 4, firstOffset: 50 }), recordingControl());
      const key = stateKey('streamcell:', 'weather', 'r');
      expect(await store.load([key])).toEqual(await alone.store.load([key]));
      // The second delivery is forecast again (the same content) only if it was stepped again after a conflict; both commit.
      const published = sink.forecasts().map((f) => flat(f.forecast));
      const expected = await offline(5);
      expect([5, 10]).toContain(published.length);
      published.forEach((f, i) => expect(f).toEqual(expected[i % 5]));
      expect(controls.map((c) => c.commits)).toEqual([['55'], ['55']]);
    });

    it(`puts at most ${GROUP_EVENTS} events in a group`, async () => {
      const store = new CountingStore();
      const { pipeline, metrics } = await pipelineHarness({}, store);
      const size = Math.ceil(GROUP_EVENTS * 0.4);
      const batches = [0, 1, 2].map((p) => batchOf(Array.from({ length: size }, (_, i) => event(`big${p}`, i)), { partition: p }));
      await Promise.all(batches.map((b) => pipeline.handle(b, recordingControl())));
      // The first two fit in GROUP_EVENTS together; the third would not, and goes in a group of its own.
      expect(await histogramCount(metrics, 'streamcell_batch_group_batches')).toEqual({ count: 2, sum: 3 });
      expect(store.loads).toBe(2);
    });

    it('lets no group grow past the cap: a batch that would not fit waits for the next group', async () => {
      const store = new CountingStore();
      const { pipeline, metrics } = await pipelineHarness({}, store);
      const small = batchOf(eventsOf(['tiny'], 10), { partition: 0 });
      const large = batchOf(Array.from({ length: GROUP_EVENTS }, (_, i) => event('huge', i)), { partition: 1 });
      await Promise.all([pipeline.handle(small, recordingControl()), pipeline.handle(large, recordingControl())]);
      expect(await histogramCount(metrics, 'streamcell_batch_group_batches')).toEqual({ count: 2, sum: 2 });
      expect(store.loads).toBe(2);
    });

    it('counts events from another partition than the one the state records as handling the batches one by one does', async () => {
      // Stream 'y' on partitions 0, 1 and 2 of one group, then on partition 2 again: 2 + 3 events counted one by one
      // (the record names partition 0 while partition 1's batch runs, partition 1 while 2's does), then 0.
      const batchesOf = (round: number): InboundBatch[] =>
        round === 0
          ? [0, 1, 2].map((p) => batchOf([event('y', 10 * p + 0), event('y', 10 * p + 1), ...(p === 2 ? [event('y', 22)] : [])], { partition: p, firstOffset: 100 }))
          : [batchOf([event('y', 30)], { partition: 2, firstOffset: 103 })];
      const together = await pipelineHarness({ acceptOutOfOrder: true });
      const apart = await pipelineHarness({ acceptOutOfOrder: true });
      for (const round of [0, 1]) {
        await Promise.all(batchesOf(round).map((b) => together.pipeline.handle(b, recordingControl())));
        for (const b of batchesOf(round)) await apart.pipeline.handle(b, recordingControl());
      }
      expect(await counter(apart.metrics, 'streamcell_cross_partition_events_total')).toBe(5);
      expect(await counter(together.metrics, 'streamcell_cross_partition_events_total')).toBe(5);
      expect(together.sink.forecasts()).toHaveLength(8);
    });

    it('starts a stream afresh after an earlier batch of its group ended it, as one by one', async () => {
      // 'e' ends on partition 0; partition 1 then has earlier event times: no record one by one, so no out_of_order and no count.
      const batchesOf = (): InboundBatch[] => [
        batchOf([event('e', 40), event('e', 41, { end: true })], { partition: 0, firstOffset: 300 }),
        batchOf([event('e', 5), event('e', 6)], { partition: 1, firstOffset: 300 }),
      ];
      const together = await pipelineHarness();
      const apart = await pipelineHarness();
      await Promise.all(batchesOf().map((b) => together.pipeline.handle(b, recordingControl())));
      for (const b of batchesOf()) await apart.pipeline.handle(b, recordingControl());
      for (const h of [together, apart]) {
        expect(h.sink.messages('events.dlq')).toEqual([]);
        expect(await counter(h.metrics, 'streamcell_cross_partition_events_total')).toBe(0);
      }
      expect(together.sink.forecasts().map((f) => flat(f.forecast)).slice(2)).toEqual(await offline(2, 5));
      const key = stateKey('streamcell:', 'weather', 'e');
      expect(await together.store.load([key])).toEqual(await apart.store.load([key]));
    });

    it('when a group fails for one batch\'s reason, handles each on its own so that only that batch is given back', async () => {
      const store = new CountingStore();
      const { pipeline, sink, metrics } = await pipelineHarness({}, store);
      // The dead-letter topic of 'refused' does not take messages; the group's one send includes its dead letter.
      const send = sink.send.bind(sink);
      sink.send = (records) => (records.some((r) => r.topic === 'refused.dlq') ? Promise.reject(new Error('topic refused.dlq: not authorized')) : send(records));
      const good = [0, 1].map((p) => batchOf(eventsOf([`g${p}`], 3), { partition: p }));
      const bad = batchOf([event('h', 0), { key: 'h', value: '{"stream":' }], { topic: 'refused', partition: 0 });
      const controls = [recordingControl(), recordingControl(), recordingControl()];
      const results = await Promise.allSettled([...good, bad].map((b, i) => pipeline.handle(b, controls[i]!)));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
      expect(controls.map((c) => c.commits.length)).toEqual([1, 1, 0]);
      // The group, then each batch alone; counted once as consumed.
      expect(store.loads).toBe(4);
      expect(await histogramCount(metrics, 'streamcell_batch_group_batches')).toEqual({ count: 1, sum: 3 });
      expect(await counter(metrics, 'streamcell_events_total', { topic: 'events' })).toBe(6);
      expect(await counter(metrics, 'streamcell_batch_group_failures_total', { handling: 'one_by_one' })).toBe(1);
      expect(await counter(metrics, 'streamcell_batch_group_failures_total', { handling: 'given_back' })).toBe(0);
      // The good batches' forecasts went out once each (their first group's send failed as a whole).
      expect(sink.forecasts().map((f) => f.stream).sort()).toEqual(['g0', 'g0', 'g0', 'g1', 'g1', 'g1']);
    });

    it('commits the batches of a group each on its own: a stale or failing one does not hold back the others', async () => {
      const { pipeline } = await pipelineHarness();
      const batches = [0, 1, 2].map((p) => batchOf(eventsOf([`c${p}`], 2), { partition: p }));
      const [ok, stale, failing] = batches.map(() => recordingControl());
      stale!.stale = true;
      failing!.commit = () => Promise.reject(new Error('commit refused'));
      const results = await Promise.allSettled(batches.map((b, i) => pipeline.handle(b, [ok, stale, failing][i]!)));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
      expect(ok!.commits).toEqual([String(Number(batches[0]!.messages.at(-1)!.offset) + 1)]);
      expect(stale!.commits).toEqual([]);
    });

    it('gives every batch of a group back at once, uncommitted, when the group fails for a reason they all share', async () => {
      const store = new CountingStore();
      const { pipeline, sink, metrics } = await pipelineHarness({}, store);
      store.failLoads = true;
      const batches = [0, 1, 2].map((p) => batchOf(eventsOf([`f${p}`], 2), { partition: p }));
      const controls = batches.map(() => recordingControl());
      const results = await Promise.allSettled(batches.map((b, i) => pipeline.handle(b, controls[i]!)));
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
      expect(controls.map((c) => c.commits)).toEqual([[], [], []]);
      expect(sink.sent).toEqual([]);
      // Redis unavailable would be the same for each batch alone: no load more.
      expect(store.loads).toBe(1);
      expect(await counter(metrics, 'streamcell_batch_group_failures_total', { handling: 'given_back' })).toBe(1);
    });
  });
});

describe('ModelRegistry', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('swaps in a new version without restart, resets streams on it, and ignores a broken one', async () => {
    dir = await mkdtemp(join(tmpdir(), 'streamcell-models-'));
    await cp(join(MODELS_DIR, 'weather', '1'), join(dir, 'weather', '1'), { recursive: true });
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    const registry = new ModelRegistry({ dir, maxBatch: 8, log: createLogger({ name: 't', level: 'silent' }), metrics });
    await registry.scan();
    expect(registry.snapshot().get('weather')?.version).toBe('1');
    const before = registry.snapshot();

    const manifest = JSON.parse(await readFile(join(dir, 'weather', '1', 'model.json'), 'utf8')) as Record<string, unknown>;
    await cp(join(dir, 'weather', '1'), join(dir, 'weather', '2'), { recursive: true });
    await writeFile(join(dir, 'weather', '2', 'model.json'), JSON.stringify({ ...manifest, version: '2' }));
    await cp(join(dir, 'weather', '1'), join(dir, 'weather', '10'), { recursive: true });
    await writeFile(join(dir, 'weather', '10', 'model.json'), JSON.stringify({ ...manifest, version: '10' }));
    await writeFile(join(dir, 'weather', '10', 'weights.safetensors'), 'garbage');
    await registry.scan();

    expect(registry.snapshot().get('weather')?.version).toBe('2');
    expect(before.get('weather')?.version).toBe('1');
    expect(await counter(metrics, 'streamcell_model_load_failures_total', { model: 'weather' })).toBe(1);
    await registry.scan();
    expect(await counter(metrics, 'streamcell_model_load_failures_total', { model: 'weather' })).toBe(1);
    expect(await counter(metrics, 'streamcell_models_loaded', { model: 'weather', version: '2' })).toBe(1);

    // Broken another way: one more failure, counted once however many scans see it.
    await writeFile(join(dir, 'weather', '10', 'weights.safetensors'), 'other garbage');
    await registry.scan();
    await registry.scan();
    expect(await counter(metrics, 'streamcell_model_load_failures_total', { model: 'weather' })).toBe(2);
    expect(registry.snapshot().get('weather')?.version).toBe('2');
    // Fixed in place: the next scan swaps it in, and counts no failure.
    await cp(join(dir, 'weather', '1', 'weights.safetensors'), join(dir, 'weather', '10', 'weights.safetensors'));
    await registry.scan();
    expect(registry.snapshot().get('weather')?.version).toBe('10');
    expect(await counter(metrics, 'streamcell_model_load_failures_total', { model: 'weather' })).toBe(2);
  });

  it('starts afresh over a stored value that is not a record (too short to hold a guard), and overwrites it', async () => {
    const { pipeline, store, metrics, sink } = await pipelineHarness();
    const key = stateKey('streamcell:', 'weather', 'junk');
    await store.save([{ key, expectGuard: null, value: Buffer.from('not a record') }], 60_000);
    const control = recordingControl();
    const batch = batchOf([event('junk', 0)]);
    await pipeline.handle(batch, control);
    expect(control.commits).toEqual([String(Number(batch.messages[0]!.offset) + 1)]);
    expect(await counter(metrics, 'streamcell_state_resets_total', { reason: 'unreadable' })).toBe(1);
    expect(sink.forecasts()).toHaveLength(1);
    expect(decodeRecord((await store.load([key]))[0]!)).toMatchObject({ steps: 1 });
  });

  it('resets a stream state written by another model version, counting the reason', async () => {
    const { pipeline, store, metrics } = await pipelineHarness();
    const key = stateKey('streamcell:', 'weather', 'v');
    await pipeline.handle(batchOf([event('v', 0)]), recordingControl());
    const [raw] = await store.load([key]);
    const tampered = Buffer.from(raw!);
    tampered.writeUInt32LE(12345, 4); // another model version's hash
    await store.save([{ key, expectGuard: raw!.subarray(8, 24), value: tampered }], 60_000);
    await pipeline.handle(batchOf([event('v', 1)]), recordingControl());
    expect(await counter(metrics, 'streamcell_state_resets_total', { reason: 'model_version' })).toBe(1);
    expect(decodeRecord((await store.load([key]))[0]!)).toMatchObject({ steps: 1 });
  });
});

describe('sharedFailure', () => {
  it('says which failures every batch of a group would meet alone', () => {
    const kafka = (cause: unknown): StreamcellError => new StreamcellError('kafka_unavailable', 'send failed', { retriable: true, cause });
    const named = (name: string, extra: Record<string, unknown> = {}): Error => Object.assign(new Error(name), { name, ...extra });
    // Shared: Redis down, a Kafka connection or timeout (also under kafkajs' retries), the group moving on.
    expect(sharedFailure(new StreamcellError('redis_unavailable', 'MGET failed', { retriable: true }))).toBe(true);
    expect(sharedFailure(new Error('wrapped', { cause: new StreamcellError('redis_unavailable', 'EVALSHA timed out') }))).toBe(true);
    expect(sharedFailure(kafka(named('KafkaJSConnectionError')))).toBe(true);
    expect(sharedFailure(kafka(named('KafkaJSNumberOfRetriesExceeded', { originalError: named('KafkaJSRequestTimeoutError') })))).toBe(true);
    expect(sharedFailure(named('KafkaJSProtocolError', { type: 'REBALANCE_IN_PROGRESS' }))).toBe(true);
    // Possibly one batch's: a topic refused, a message too large, the state of some streams changing, anything else.
    expect(sharedFailure(kafka(named('KafkaJSProtocolError', { type: 'TOPIC_AUTHORIZATION_FAILED' })))).toBe(false);
    expect(sharedFailure(new StreamcellError('too_large', 'a message exceeds the broker size limit'))).toBe(false);
    expect(sharedFailure(new Error('state of 3 streams kept changing under partitions events/1'))).toBe(false);
    expect(sharedFailure(undefined)).toBe(false);
    const loop: { cause?: unknown } = new Error('loop');
    loop.cause = loop;
    expect(sharedFailure(loop)).toBe(false);
  });
});
