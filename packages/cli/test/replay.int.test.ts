/**
 * The replayer against the real Kafka: what lands on the topic, read back
 * with a consumer. Rates are asserted only within wide bands; timing never
 * decides these tests, the bench does (bench/replay).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.ts';
import { partitionForKey } from '@streamcell/streams';
import { openTestEnv, type TestEnv } from '../../../test/support/services.ts';

const MODEL_DIR = join(import.meta.dirname, '..', '..', '..', 'models', 'weather', '1');

interface Landed {
  readonly key: string;
  readonly partition: number;
  readonly offset: number;
  readonly event: { stream: string; ts: number; values: Record<string, number>; reset?: boolean };
}

let env: TestEnv;
let dir: string;
beforeAll(async () => {
  env = await openTestEnv();
  dir = await mkdtemp(join(tmpdir(), 'replayer-int-'));
});
afterAll(async () => {
  await env?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `streamcell replay` in this process; returns exit code, stdout, stderr. */
async function replay(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await runCli(['replay', '--brokers', env.brokers.join(','), '--no-create-topic', ...args], { stdout, stderr, env: {} });
  return { code, out, err };
}

/** Every message of `topic` (which holds exactly `count`), in partition and offset order. */
async function readTopic(topic: string, count: number): Promise<Landed[]> {
  const consumer = env.kafka.consumer({ groupId: `${env.ns}-read-${topic}`, maxWaitTimeInMs: 100 });
  const got: Landed[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} messages on ${topic} within 30 s`)), 30_000);
      void consumer.run({
        eachMessage: ({ partition, message }) => {
          got.push({ key: message.key!.toString(), partition, offset: Number(message.offset), event: JSON.parse(message.value!.toString()) as Landed['event'] });
          if (got.length >= count) {
            clearTimeout(timer);
            resolve();
          }
          return Promise.resolve();
        },
      });
    });
    await done;
  } finally {
    await consumer.disconnect();
  }
  return got.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

function byStream(landed: Landed[]): Map<string, Landed[]> {
  const map = new Map<string, Landed[]>();
  for (const l of landed) map.set(l.key, [...(map.get(l.key) ?? []), l]);
  return map;
}

describe('streamcell replay on Kafka', () => {
  it('keeps every stream on one partition, in order, keyed by its id, at roughly the rate asked', async () => {
    const topic = await env.createTopic('synthetic', 6);
    const { code, out, err } = await replay(['--dataset', 'synthetic', '--model', MODEL_DIR, '--streams', '16', '--rate', '400', '--duration', '3', '--topic', topic]);
    expect(code, err).toBe(0);
    const summary = JSON.parse(out.trim().split('\n').at(-1)!) as { sent: number; errors: number; reason: string };
    expect(summary).toMatchObject({ errors: 0, reason: 'duration' });
    // 400/s for 3 s is 1,200; a loaded machine may fall behind, never ahead by much.
    expect(summary.sent).toBeGreaterThan(500);
    expect(summary.sent).toBeLessThanOrEqual(1300);

    const landed = await readTopic(topic, summary.sent);
    expect(landed).toHaveLength(summary.sent);
    const streams = byStream(landed);
    expect([...streams.keys()].sort()).toEqual(Array.from({ length: 16 }, (_, i) => `synthetic-${String(i).padStart(4, '0')}`));
    for (const [stream, events] of streams) {
      expect(new Set(events.map((e) => e.partition)), stream).toEqual(new Set([partitionForKey(stream, 6)]));
      const ts = events.map((e) => e.event.ts);
      expect(ts, stream).toEqual([...ts].sort((a, b) => a - b));
      expect(new Set(ts).size, `${stream}: one event per time step`).toBe(ts.length);
      expect(events.map((e) => e.event.stream)).toEqual(events.map(() => stream));
      expect(events[0]!.event.reset).toBe(true);
      expect(events.slice(1).some((e) => e.event.reset === true)).toBe(false);
      expect(Object.keys(events[0]!.event.values)).toEqual(['precipitation', 'temp_max', 'temp_min', 'wind']);
    }
  });

  it('replays a CSV file by group and time column, one stream per group in time order, with the same flags as train', async () => {
    const topic = await env.createTopic('csv', 3);
    const file = join(dir, 'rooms.csv');
    const rows = ['time,room,temp,humidity,note'];
    // Rooms interleaved and each room's rows shuffled in the file: the time column orders them.
    for (let i = 0; i < 20; i++) {
      for (const room of ['kitchen', 'hall', 'attic']) rows.push(`2026-01-01T00:${String((i * 7) % 20).padStart(2, '0')}:00Z,${room},${20 + ((i * 7) % 20) / 10},${40 + i},x`);
    }
    await writeFile(file, `${rows.join('\n')}\n`);
    const { code, out, err } = await replay(['--data', file, '--features', 'temp,humidity', '--targets', 'temp', '--time-column', 'time', '--group-column', 'room', '--stream-prefix', 'home', '--rate', '2000', '--topic', topic]);
    expect(code, err).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ sent: 60, errors: 0, reason: 'end_of_data', streams: 3 });
    const streams = byStream(await readTopic(topic, 60));
    expect([...streams.keys()].sort()).toEqual(['home-attic', 'home-hall', 'home-kitchen']);
    for (const events of streams.values()) {
      expect(events.map((e) => e.event.ts)).toEqual(Array.from({ length: 20 }, (_, m) => Date.UTC(2026, 0, 1, 0, m)));
      // The time column ordered the rows: temp rises with the minute.
      expect(events.map((e) => e.event.values.temp)).toEqual(Array.from({ length: 20 }, (_, m) => 20 + m / 10));
      expect(Object.keys(events[0]!.event.values)).toEqual(['temp', 'humidity']);
    }
  });

  it('replays the demo data sets under their stream ids, and loops past the end with rising times', async () => {
    const topic = await env.createTopic('sensor', 4);
    // 5,104 days of S&P 500 per pass; a limit just past it shows the second pass.
    const { code, out, err } = await replay(['--dataset', 'stock', '--rate', '20000', '--loop', '--limit', '5200', '--topic', topic]);
    expect(code, err).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ sent: 5200, passes: 2, reason: 'limit' });
    const events = (await readTopic(topic, 5200)).map((l) => l.event);
    expect(new Set(events.map((e) => e.stream))).toEqual(new Set(['stock-sp500']));
    const ts = events.map((e) => e.ts);
    for (let i = 1; i < ts.length; i++) expect(ts[i]!).toBeGreaterThan(ts[i - 1]!);
    expect(ts[5104]! - ts[5103]!).toBe(86_400_000);

    const sensorTopic = await env.createTopic('sensor-demo', 4);
    const run = await replay(['--dataset', 'sensor', '--rate', '20000', '--limit', '400', '--topic', sensorTopic]);
    expect(run.code, run.err).toBe(0);
    const sensor = byStream(await readTopic(sensorTopic, 400));
    expect([...sensor.keys()].sort()).toEqual(['sensor-mote-1', 'sensor-mote-2', 'sensor-mote-3', 'sensor-mote-4']);
    for (const events of sensor.values()) expect(Object.keys(events[0]!.event.values)).toEqual(['humidity', 'temperature']);
  });

  it('creates a missing topic with the partitions asked, unless told not to', async () => {
    const topic = `${env.ns}.created`;
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const code = await runCli(['replay', '--brokers', env.brokers.join(','), '--dataset', 'weather', '--limit', '5', '--partitions', '3', '--topic', topic], { stdout, stderr: new PassThrough(), env: {} });
      expect(code).toBe(0);
      expect(JSON.parse(out)).toMatchObject({ sent: 5 });
      const metadata = await env.admin.fetchTopicMetadata({ topics: [topic] });
      expect(metadata.topics[0]!.partitions).toHaveLength(3);
    } finally {
      await env.admin.deleteTopics({ topics: [topic] }).catch(() => {});
    }
  });

  it('fails with one clear line for bad flags, a missing file or a missing topic', async () => {
    const bad = await replay(['--dataset', 'weather', '--rate', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe("streamcell replay: --rate (REPLAY_RATE): must be a positive number of events per second, got \"lots\" (see 'streamcell replay --help')\n");
    const unknown = await replay(['--dataset', 'weather', '--speed', '3']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown option --speed/);
    const missing = await replay(['--data', join(dir, 'absent.csv'), '--features', 'a']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/absent\.csv: cannot read \(no such file\)/);
    const noTopic = await replay(['--dataset', 'weather', '--limit', '5', '--topic', `${env.ns}.never-created`]);
    expect(noTopic.code).toBe(1);
    expect(noTopic.err).toBe(`streamcell replay: Kafka topic ${env.ns}.never-created does not exist; create it, or let the replayer create it (drop --no-create-topic / CREATE_TOPICS=false)\n`);
  });
});
