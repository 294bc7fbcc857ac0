/**
 * Rate accuracy of the replayer on the real Kafka:
 *
 *   pnpm bench:replay [--rate N] [--seconds S] [--streams N]
 *
 * Runs `streamcell replay` (synthetic signals for the weather model, 1,000
 * streams) as a child process for S seconds (default 60) at N events/s
 * (default 2,000) into a fresh 12-partition topic whose timestamps are the
 * broker's append times (message.timestamp.type=LogAppendTime). Then reads
 * the topic back and counts the events per 10 s window of append time: the
 * rate as Kafka saw it, not as the replayer reports it. The target is every
 * full window and the whole run within 5% of the rate asked.
 * Starts deploy/local services when KAFKA_BROKERS is unset. Prints a table;
 * the last line is JSON.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '60' },
    streams: { type: 'string', default: '1000' },
  },
});
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const WINDOW_S = 10;
const PARTITIONS = 12;
if (!(RATE > 0) || !(SECONDS >= WINDOW_S)) {
  console.error(`--rate must be positive and --seconds at least ${WINDOW_S}`);
  process.exit(2);
}
const say = (s: string): void => void process.stderr.write(`[bench:replay] ${s}\n`);

let startedServices = false;
if (!process.env.KAFKA_BROKERS) {
  say('KAFKA_BROKERS not set: starting deploy/local services');
  const out = execFileSync('bash', [join(ROOT, 'deploy/local/services.sh'), 'up'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) process.env[m[1]!] = m[2]!;
  startedServices = true;
}
const brokers = process.env.KAFKA_BROKERS!.split(',');
const ns = `bench-${randomUUID().slice(0, 8)}`;
const topic = `${ns}.replay`;
const kafka = new Kafka({ clientId: ns, brokers, logLevel: logLevel.ERROR });
const admin = kafka.admin();
await admin.connect();

try {
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] }],
  });
  say(`replaying ${args.streams} synthetic streams at ${RATE}/s for ${SECONDS} s into ${topic}`);
  const child = spawn(
    process.execPath,
    [join(ROOT, 'packages/cli/src/main.ts'), 'replay', '--dataset', 'synthetic', '--model', join(ROOT, 'models/weather/1'), '--streams', args.streams, '--rate', String(RATE), '--duration', String(SECONDS), '--topic', topic, '--no-create-topic', '--brokers', brokers.join(','), '--progress-interval', String(WINDOW_S)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`streamcell replay exited with ${code}`);
  const summary = JSON.parse(out.trim().split('\n').at(-1)!) as { sent: number; errors: number; rate: number; elapsedMs: number };

  say(`reading ${summary.sent} events back`);
  const times: number[] = [];
  const consumer = kafka.consumer({ groupId: `${ns}-reader`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${times.length} of ${summary.sent} events read back within 60 s`)), 60_000);
    void consumer.run({
      eachBatch: ({ batch }) => {
        for (const m of batch.messages) times.push(Number(m.timestamp));
        if (times.length >= summary.sent) {
          clearTimeout(timer);
          resolve();
        }
        return Promise.resolve();
      },
    });
  });
  await consumer.disconnect();

  times.sort((a, b) => a - b);
  const first = times[0]!;
  const last = times.at(-1)!;
  const windows: { from_s: number; events: number; rate: number; deviation_pct: number }[] = [];
  // The run's windows from the first append; the last one ends at the last
  // append (a few ms short of a full window, as the first append comes a
  // moment after the replayer starts its clock), and its rate uses its length.
  const count = Math.max(1, Math.round((last - first) / (WINDOW_S * 1000)));
  for (let w = 0; w < count; w++) {
    const lo = first + w * WINDOW_S * 1000;
    const hi = w === count - 1 ? last + 1 : lo + WINDOW_S * 1000;
    const events = times.filter((t) => t >= lo && t < hi).length;
    const rate = events / (w === count - 1 ? Math.max(1, last - lo) / 1000 : WINDOW_S);
    windows.push({ from_s: w * WINDOW_S, events, rate, deviation_pct: Math.round(((rate - RATE) / RATE) * 10000) / 100 });
  }
  const spanS = (last - first) / 1000;
  const overall = (times.length - 1) / spanS;
  const overallDev = ((overall - RATE) / RATE) * 100;
  const worst = Math.max(Math.abs(overallDev), ...windows.map((w) => Math.abs(w.deviation_pct)));
  const result = {
    target_rate: RATE,
    seconds: SECONDS,
    events: times.length,
    send_errors: summary.errors,
    overall_rate: Math.round(overall * 10) / 10,
    overall_deviation_pct: Math.round(overallDev * 100) / 100,
    window_rates: windows.map((w) => Math.round(w.rate * 10) / 10),
    worst_deviation_pct: Math.round(worst * 100) / 100,
    within_5_pct: worst <= 5,
    replayer_reported_rate: Math.round(summary.rate * 10) / 10,
  };
  const rows: [string, string][] = [
    ['machine', `${hostname()}, ${cpus().length} x ${cpus()[0]?.model ?? '?'}, Node ${process.versions.node}`],
    ['setup', `streamcell replay --dataset synthetic, ${args.streams} streams, ${PARTITIONS} partitions, LogAppendTime`],
    ...windows.map((w): [string, string] => [`window ${String(w.from_s).padStart(3)}-${w.from_s + WINDOW_S} s`, `${w.events} events, ${w.rate.toFixed(1)}/s (${w.deviation_pct >= 0 ? '+' : ''}${w.deviation_pct}%)`]),
    ['overall (first to last append)', `${times.length} events in ${spanS.toFixed(2)} s = ${overall.toFixed(1)}/s (${overallDev >= 0 ? '+' : ''}${overallDev.toFixed(2)}%)`],
    ['replayer reported', `${summary.sent} acked, ${summary.errors} errors, ${summary.rate.toFixed(1)}/s over ${(summary.elapsedMs / 1000).toFixed(2)} s`],
    ['within 5% everywhere', String(result.within_5_pct)],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  await mkdir(join(ROOT, 'bench/results'), { recursive: true });
  await writeFile(join(ROOT, 'bench/results', `replay-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.json`), JSON.stringify({ ...result, rows }, null, 2));
  console.log(JSON.stringify(result));
  if (!result.within_5_pct) process.exitCode = 1;
} finally {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  if (startedServices) execFileSync('bash', [join(ROOT, 'deploy/local/services.sh'), 'down'], { stdio: 'inherit' });
}
