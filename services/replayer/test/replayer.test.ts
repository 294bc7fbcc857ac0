import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSeriesCsv } from '@streamcell/datasets';
import { isStreamcellError } from '@streamcell/protocol';
import { MemoryLog } from '@streamcell/streams';
import { createLogger, createReplayerMetrics } from '@streamcell/telemetry';
import { Pacer } from '../src/pacer.ts';
import { ProgressPrinter, type ReplayProgress } from '../src/progress.ts';
import { Replayer, type ReplaySettings } from '../src/replayer.ts';
import { ENV_VARS, describeSettings, loadReplayConfig } from '../src/config.ts';
import { openSource, seriesSource, syntheticSource, type EventSource } from '../src/sources.ts';

const MODEL_DIR = join(import.meta.dirname, '..', '..', '..', 'models', 'weather', '1');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'replayer-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function take<T>(it: Iterable<T>, n: number): T[] {
  const out: T[] = [];
  for (const x of it) {
    if (out.length >= n) break;
    out.push(x);
  }
  return out;
}

describe('Pacer', () => {
  it('releases floor(rate x elapsed) events, making up for late wake-ups', () => {
    const p = new Pacer(2000, 0);
    expect(p.due(0, 0)).toBe(0);
    expect(p.due(10, 0)).toBe(20);
    // Woke 30 ms late having released 20: 60 more are due at once.
    expect(p.due(40, 20)).toBe(60);
    expect(p.waitMs(40, 80)).toBeCloseTo(0.5);
  });

  it('forgives a debt longer than the burst allowance instead of flooding after a stall', () => {
    const p = new Pacer(100, 0, 1);
    // 10 s stalled with nothing released: at most one second (100) is due.
    expect(p.due(10_000, 0)).toBe(100);
    expect(p.due(10_000, 100)).toBe(0);
    expect(p.due(10_500, 100)).toBe(50);
  });
});

describe('sources', () => {
  it('merges grouped CSV series by time, each stream in its own order (ties in order of first appearance), and moves later passes past the first', async () => {
    const file = join(dir, 'grouped.csv');
    // Rows out of time order within a group, groups interleaved.
    await writeFile(file, 'time,sensor,temp\n30,b,3\n10,a,1\n20,b,2\n40,a,4\n10,b,1.5\n25,a,2.5\n');
    const set = await readSeriesCsv(file, { features: ['temp'], timeColumn: 'time', groupColumn: 'sensor' });
    const source = seriesSource(set, { streamId: (g) => `room-${g}`, intervalMs: 5, startMs: 0, description: 't' });
    const pass0 = [...source.pass(0)];
    expect(pass0.map((e) => `${e.stream}@${e.ts}`)).toEqual(['room-b@10', 'room-a@10', 'room-b@20', 'room-a@25', 'room-b@30', 'room-a@40']);
    const pass1 = [...source.pass(1)];
    // Span 10..40 plus one interval: every time moves by 35.
    expect(pass1.map((e) => e.ts)).toEqual(pass0.map((e) => e.ts + 35));
    for (const stream of source.streams) {
      const last0 = Math.max(...pass0.filter((e) => e.stream === stream).map((e) => e.ts));
      const first1 = Math.min(...pass1.filter((e) => e.stream === stream).map((e) => e.ts));
      expect(first1).toBeGreaterThan(last0);
    }
    expect(pass0.find((e) => e.stream === 'room-b' && e.ts === 20)!.values).toEqual({ temp: 2 });
  });

  it('spaces rows without a time column by the interval, round-robin over groups', async () => {
    const file = join(dir, 'notime.csv');
    await writeFile(file, 'id,v\nx,1\nx,2\ny,10\nx,3\ny,20\n');
    const set = await readSeriesCsv(file, { features: ['v'], groupColumn: 'id' });
    const source = seriesSource(set, { streamId: (g) => g, intervalMs: 1000, startMs: 5000, description: 't' });
    expect([...source.pass(0)].map((e) => `${e.stream}${e.values.v}@${e.ts}`)).toEqual(['x1@5000', 'y10@5000', 'x2@6000', 'y20@6000', 'x3@7000']);
  });

  it('names the demo streams as the data sets say', async () => {
    const sensor = await openSource({ dataset: 'sensor', startMs: 0, synthetic: { streams: 1, seed: 1 } });
    expect(sensor.streams).toEqual(['sensor-mote-1', 'sensor-mote-2', 'sensor-mote-3', 'sensor-mote-4']);
    expect(sensor.features).toEqual(['humidity', 'temperature']);
    const weather = await openSource({ dataset: 'weather', startMs: 0, synthetic: { streams: 1, seed: 1 } });
    expect(weather.streams).toEqual(['weather-seattle']);
    const first = take(weather.pass(0), 2);
    expect(first[0]!.ts).toBe(Date.UTC(2012, 0, 1));
    expect(first[1]!.ts - first[0]!.ts).toBe(86_400_000);
    expect(Object.keys(first[0]!.values)).toEqual(['precipitation', 'temp_max', 'temp_min', 'wind']);
  });

  it('makes seeded synthetic signals with the model\'s features around its scaler\'s levels', async () => {
    const a = await openSource({ dataset: 'synthetic', startMs: 1000, intervalMs: 10, synthetic: { streams: 12, seed: 7, modelDir: MODEL_DIR } });
    const b = await openSource({ dataset: 'synthetic', startMs: 1000, intervalMs: 10, synthetic: { streams: 12, seed: 7, modelDir: MODEL_DIR } });
    const c = await openSource({ dataset: 'synthetic', startMs: 1000, intervalMs: 10, synthetic: { streams: 12, seed: 8, modelDir: MODEL_DIR } });
    const ea = take(a.pass(0), 1200);
    expect(ea).toEqual(take(b.pass(0), 1200));
    expect(ea).not.toEqual(take(c.pass(0), 1200));
    expect(a.streams[7]).toBe('synthetic-0007');
    expect(ea[12]).toMatchObject({ stream: 'synthetic-0000', ts: 1010 });
    const temps = ea.map((e) => e.values.temp_max!);
    const mean = temps.reduce((s, v) => s + v, 0) / temps.length;
    // The weather model's temp_max scaler: mean 15.8, std 7.2.
    expect(mean).toBeGreaterThan(5);
    expect(mean).toBeLessThan(27);
    expect(Math.max(...temps) - Math.min(...temps)).toBeGreaterThan(7);
  });

  it('refuses what it cannot replay, saying what to change', async () => {
    const errorOf = async (p: Promise<unknown>): Promise<string> => {
      try {
        await p;
      } catch (err) {
        expect(isStreamcellError(err)).toBe(true);
        return (err as Error).message;
      }
      throw new Error('expected a failure');
    };
    expect(await errorOf(openSource({ dataset: 'synthetic', startMs: 0, synthetic: { streams: 2, seed: 1, modelDir: join(dir, 'nope') } }))).toMatch(/model\.json: cannot read \(no such file/);
    const file = join(dir, 'bad.csv');
    await writeFile(file, 'a,b\n1,x\n');
    expect(await errorOf(openSource({ data: file, columns: { features: ['a', 'b'] }, startMs: 0, synthetic: { streams: 1, seed: 1 } }))).toMatch(/line 2, column "b": "x" is not a number/);
    expect(await errorOf(openSource({ data: file, columns: { features: ['c'] }, startMs: 0, synthetic: { streams: 1, seed: 1 } }))).toMatch(/no column\(s\) "c"/);
  });
});

describe('settings', () => {
  const env = { KAFKA_BROKERS: '127.0.0.1:9092' };
  const usage = (flags: Record<string, string | true>, e: Record<string, string> = env): string => {
    try {
      loadReplayConfig(flags, e, { service: false });
    } catch (err) {
      expect(isStreamcellError(err, 'usage')).toBe(true);
      return (err as Error).message;
    }
    throw new Error('expected a usage error');
  };

  it('takes flags over environment variables, with the defaults of the table', () => {
    const c = loadReplayConfig({ rate: '250', loop: true, 'no-reset': true }, { ...env, REPLAY_RATE: '10', REPLAY_DATASET: 'weather' }, { service: false });
    expect(c).toMatchObject({ rate: 250, loop: true, reset: false, dataset: 'weather', topic: 'events', createTopic: true, partitions: 12, timestamps: 'data', metricsPort: undefined });
    expect(loadReplayConfig({}, { ...env, REPLAY_DATASET: 'weather' }, { service: true }).metricsPort).toBe(9465);
    expect(loadReplayConfig({}, { ...env, REPLAY_DATASET: 'weather', REPLAY_LOOP: 'true', CREATE_TOPICS: 'false' }, { service: true })).toMatchObject({ loop: true, createTopic: false });
  });

  it('gives every setting one variable and one flag, all listed in the help', () => {
    expect(new Set(ENV_VARS.map((v) => v.name)).size).toBe(ENV_VARS.length);
    expect(new Set(ENV_VARS.map((v) => v.flag)).size).toBe(ENV_VARS.length);
    const help = describeSettings();
    for (const v of ENV_VARS) {
      expect(help).toContain(`--${v.flag}`);
      expect(help).toContain(v.name);
    }
    // Only the brokers are required of the service: everything else has a default or is optional.
    expect(ENV_VARS.filter((v) => v.required).map((v) => v.name)).toEqual(['KAFKA_BROKERS']);
  });

  it('names every bad setting with its flag and variable', () => {
    expect(usage({ dataset: 'weather', rate: 'fast' })).toBe('--rate (REPLAY_RATE): must be a positive number of events per second, got "fast"');
    expect(usage({ dataset: 'weather', rate: '-5' })).toMatch(/--rate \(REPLAY_RATE\): must be a positive number/);
    expect(usage({ dataset: 'weather' }, {})).toMatch(/--brokers \(KAFKA_BROKERS\): required/);
    expect(usage({ dataset: 'weather', brokers: 'localhost' })).toMatch(/Kafka broker must be host:port, got "localhost"/);
    expect(usage({})).toMatch(/say what to replay: --dataset \(REPLAY_DATASET\) sensor\|stock\|weather\|synthetic/);
    expect(usage({ dataset: 'weather', data: 'x.csv' })).toMatch(/give one, not both/);
    expect(usage({ dataset: 'moon' })).toMatch(/unknown data set "moon" \(known: sensor, stock, weather, synthetic\)/);
    expect(usage({ data: 'x.csv' })).toMatch(/--features \(REPLAY_FEATURES\): required with --data/);
    expect(usage({ dataset: 'synthetic' })).toMatch(/synthetic data needs --model \(REPLAY_MODEL_DIR\) or --features/);
    expect(usage({ dataset: 'weather', model: MODEL_DIR })).toMatch(/only for --dataset synthetic/);
    expect(usage({ data: 'x.csv', features: 'a', targets: 'b' })).toMatch(/b must also be features/);
    expect(usage({ dataset: 'weather', timestamps: 'later' })).toMatch(/must be data or now/);
    expect(usage({ dataset: 'weather', topic: 'bad topic' })).toMatch(/invalid Kafka topic name/);
    // Several at once: one line each.
    expect(usage({ dataset: 'weather', rate: '0', limit: '2.5' }).split('\n')).toHaveLength(3);
  });
});

describe('Replayer', () => {
  const log = createLogger({ name: 'test', level: 'silent' });
  const settings = (over: Partial<ReplaySettings>): ReplaySettings => ({
    topic: 'events',
    rate: 1_000_000,
    loop: false,
    limit: undefined,
    durationMs: undefined,
    timestamps: 'data',
    reset: true,
    eventModel: undefined,
    ...over,
  });
  async function replay(source: EventSource, over: Partial<ReplaySettings>): Promise<{ events: Record<string, unknown>[]; keys: string[]; sent: number; passes: number }> {
    const memory = new MemoryLog({ topics: [{ topic: 'events', partitions: 3 }] });
    const sink = memory.sink();
    await sink.connect();
    const metrics = createReplayerMetrics({ defaultMetrics: false });
    const summary = await new Replayer({ settings: settings(over), source, sink, metrics, log }).run();
    const messages = memory.read('events').sort((a, b) => a.timestamp - b.timestamp || Number(a.offset) - Number(b.offset));
    const byOffset = [...messages];
    expect((await metrics.registry.getSingleMetric('streamcell_replayer_events_sent_total')!.get()).values[0]!.value).toBe(summary.sent);
    return { events: byOffset.map((m) => JSON.parse(m.value!.toString()) as Record<string, unknown>), keys: byOffset.map((m) => m.key!.toString()), sent: summary.sent, passes: summary.passes };
  }

  it('loops with event times that keep rising per stream, resetting each stream only on its first event of the run', async () => {
    const file = join(dir, 'loop.csv');
    await writeFile(file, 'g,v\na,1\nb,2\na,3\nb,4\n');
    const source = seriesSource(await readSeriesCsv(file, { features: ['v'], groupColumn: 'g' }), { streamId: (g) => `s-${g}`, intervalMs: 100, startMs: 1000, description: 't' });
    const { events, keys, sent, passes } = await replay(source, { loop: true, limit: 10, eventModel: 'weather' });
    expect(sent).toBe(10);
    expect(passes).toBe(3);
    expect(keys).toEqual(events.map((e) => e.stream));
    for (const stream of ['s-a', 's-b']) {
      const mine = events.filter((e) => e.stream === stream);
      const ts = mine.map((e) => e.ts as number);
      expect(ts).toEqual([...ts].sort((x, y) => x - y));
      expect(new Set(ts).size).toBe(ts.length);
      expect(mine.map((e) => e.reset === true)).toEqual(mine.map((_, i) => i === 0));
      expect(mine.every((e) => e.model === 'weather')).toBe(true);
    }
  });

  it('stops at the end of the data without --loop, and stamps events with the send time when asked', async () => {
    const file = join(dir, 'once.csv');
    await writeFile(file, 'v\n1\n2\n3\n');
    const source = seriesSource(await readSeriesCsv(file, { features: ['v'] }), { streamId: () => 'one', intervalMs: 1, startMs: 0, description: 't' });
    const before = Date.now();
    const { events, sent } = await replay(source, { timestamps: 'now', reset: false });
    expect(sent).toBe(3);
    expect(events.map((e) => e.values)).toEqual([{ v: 1 }, { v: 2 }, { v: 3 }]);
    for (const e of events) {
      expect(e.ts as number).toBeGreaterThanOrEqual(before);
      expect(e.reset).toBeUndefined();
    }
  });

  it('reports progress as plain lines when the output is not a terminal', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    const printer = new ProgressPrinter(out, 10_000);
    const source = syntheticSource({ streams: 3, features: ['x'], mean: [0], std: [1], seed: 1, intervalMs: 1, startMs: 0 });
    const memory = new MemoryLog({ topics: [{ topic: 'events', partitions: 1 }] });
    const sink = memory.sink();
    await sink.connect();
    await new Replayer({ settings: settings({ limit: 30 }), source, sink, metrics: createReplayerMetrics({ defaultMetrics: false }), log, progress: printer }).run();
    const lines = text.trim().split('\n');
    expect(lines.at(-1)).toMatch(/sent 30 .*errors 0 .*pass 1$/);
    expect(text).not.toContain('\r');
  });

  it('rewrites one live line on a terminal, and prints a line per interval elsewhere', () => {
    const snapshot = (elapsedMs: number, sent: number): ReplayProgress => ({ elapsedMs, sent, errors: 1, inFlight: 2, targetRate: 100, recentRate: 99.6, overallRate: 98, pass: 2 });
    const collect = (tty: boolean): { printer: ProgressPrinter; text: () => string } => {
      const out = Object.assign(new PassThrough(), { isTTY: tty });
      let text = '';
      out.on('data', (d: Buffer) => (text += d.toString()));
      return { printer: new ProgressPrinter(out, 10_000), text: () => text };
    };
    const live = collect(true);
    for (let t = 0; t <= 1000; t += 250) live.printer.update(snapshot(t, t / 10), 5000 + t);
    live.printer.finish(snapshot(1000, 100));
    expect(live.text()).toBe(
      [250, 500, 750, 1000].map((t) => `\r${String(Math.round(t / 1000)).padStart(4)} s  sent ${t / 10}  rate 100/s (target 100/s, overall 98/s)  errors 1  in flight 2  pass 2\x1b[K`).join('') +
        '\r   1 s  sent 100  rate 100/s (target 100/s, overall 98/s)  errors 1  in flight 2  pass 2\x1b[K\n',
    );
    const plain = collect(false);
    for (let t = 0; t <= 25_000; t += 1000) plain.printer.update(snapshot(t, t / 10), 7000 + t);
    expect(plain.text().split('\n').filter(Boolean).map((l) => l.slice(0, 6))).toEqual(['  10 s', '  20 s']);
  });
});
