/**
 * End-to-end benchmark of one worker on the real Kafka and Redis:
 *
 *   pnpm bench:e2e [--events N] [--rate-seconds S] [--warmup-seconds S] [--broker-warmup-seconds S] [--concurrency N] [--hidden N] [--layers N] [--node-flags="..."] [--quick] [--trace]
 *
 * One worker process, 10,000 streams, a 2-layer LSTM (hidden 64, input 8,
 * horizon 4, 2 targets), 12 partitions. --hidden and --layers change the
 * model (for seeing how much of the worker's cost is the model's); the
 * issue's figures are with the defaults. --node-flags adds Node flags to
 * the worker and pass-through processes, after the image's NODE_OPTIONS:
 * `--node-flags="--cpu-prof --cpu-prof-dir=/tmp/prof"` profiles both (with
 * the =, since the value starts with a dash).
 *   1. Throughput: N events (default 1,000,000) produced ahead, then the
 *      highest sustained rate at which the worker commits them (consume,
 *      load, step, publish, save).
 *   2. The floor: a pass-through process with the same client settings
 *      (consume, produce the same bytes, commit; no state, no model). It
 *      runs several times faster than the worker, so N must be large for its
 *      window between first and last commit to span many fetches.
 *   3. Latency at 5,000 events/s: producer send to forecast received, p50/p99
 *      over --rate-seconds, after --warmup-seconds at the same rate that are
 *      not measured (a fresh worker, and a fresh broker JVM, take several
 *      seconds at this rate to reach their steady latency; the table shows
 *      the warm-up's own p50/p99 too). Then the same through the
 *      pass-through alone, the worker stopped: the latency floor of the
 *      broker, the client and this measuring process on this machine.
 *      --trace prints every 250 ms window of both. Each phase also gives
 *      the CPU time its process spent per event in the measured window: at
 *      this rate batches are small and that is mostly per-batch cost.
 *      Before both, --broker-warmup-seconds (default 20) of the pass-through
 *      at the rate on topics of its own, not measured: the broker JVM
 *      compiles (C2) the code of this request mix for about 15 s of a core
 *      the first time it sees it, which on 2 cores would otherwise land in
 *      the first phase measured and not in the second. A broker in service
 *      has long done that.
 *   4. Redis round trips per partition batch and per group of batches
 *      handled together (from the worker's metrics; the JSON's figure is
 *      per partition batch) and the stored bytes per stream (Redis MEMORY
 *      USAGE) beside the budget.
 * Starts deploy/local services when KAFKA_BROKERS/REDIS_URL are unset.
 * The worker's client settings in the environment (KAFKA_CONSUMERS,
 * KAFKA_FETCH_MIN_BYTES, KAFKA_FETCH_MAX_WAIT_MS) reach the pass-through too.
 * Prints a table; the last line is JSON.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { saveModel } from '@streamcell/model';
import { initWeights, seededRandom } from '@streamcell/rnn';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    streams: { type: 'string', default: '10000' },
    'rate-seconds': { type: 'string', default: '20' },
    'warmup-seconds': { type: 'string', default: '10' },
    'broker-warmup-seconds': { type: 'string', default: '20' },
    quick: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '12' },
    hidden: { type: 'string', default: '64' },
    layers: { type: 'string', default: '2' },
    trace: { type: 'boolean', default: false },
    'node-flags': { type: 'string', default: '' },
  },
});
/** A whole-number flag at least `min`, or exit with a line naming it. */
function wholeFlag(name: 'streams' | 'events' | 'rate-seconds' | 'warmup-seconds' | 'broker-warmup-seconds' | 'concurrency' | 'hidden' | 'layers', min: number): number {
  const text = args[name];
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min) {
    process.stderr.write(`[bench:e2e] --${name} must be a whole number of at least ${min}, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return n;
}
const STREAMS = wholeFlag('streams', 1);
const EVENTS = args.quick ? 30_000 : wholeFlag('events', 1);
const RATE = 5000;
const RATE_SECONDS = args.quick ? 5 : wholeFlag('rate-seconds', 1);
const WARMUP_SECONDS = args.quick ? 2 : wholeFlag('warmup-seconds', 0);
const BROKER_WARMUP_SECONDS = args.quick ? 3 : wholeFlag('broker-warmup-seconds', 0);
wholeFlag('concurrency', 1);
const PARTITIONS = 12;
const HIDDEN = wholeFlag('hidden', 1);
const LAYERS = wholeFlag('layers', 1);
const INPUT = 8;
const HORIZON = 4;
const TARGETS = 2;

const say = (s: string): void => void process.stderr.write(`[bench:e2e] ${s}\n`);

// ---- services -------------------------------------------------------------
let startedServices = false;
if (!process.env.KAFKA_BROKERS || !process.env.REDIS_URL) {
  say('KAFKA_BROKERS/REDIS_URL not set: starting deploy/local services');
  const out = execFileSync('bash', [join(ROOT, 'deploy/local/services.sh'), 'up'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) process.env[m[1]!] = m[2]!;
  startedServices = true;
}
const brokers = process.env.KAFKA_BROKERS!.split(',');
const redisUrl = process.env.REDIS_URL!;
const ns = `bench-${randomUUID().slice(0, 8)}`;
const kafka = new Kafka({ clientId: ns, brokers, logLevel: logLevel.ERROR });
const admin = kafka.admin();
await admin.connect();
const redis = new Redis(redisUrl);
const children: ChildProcess[] = [];
const dir = await mkdtemp(join(tmpdir(), 'streamcell-bench-'));

async function cleanup(): Promise<void> {
  // SIGTERM lets a worker drain (and write a --cpu-prof profile); then make sure.
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
          c.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(ns));
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${ns}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  await admin.disconnect();
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
  if (startedServices) execFileSync('bash', [join(ROOT, 'deploy/local/services.sh'), 'down'], { stdio: 'inherit' });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const features = Array.from({ length: INPUT }, (_, i) => `f${i}`);
function eventValue(stream: number, step: number, ts: number): string {
  const values = features.map((_, i) => Math.round(Math.sin(stream * 0.37 + step * 0.11 + i) * 1000) / 1000);
  return JSON.stringify({ stream: `s${stream}`, ts, values });
}

/** Produces `count` events (paced when `ratePerSecond` is given); `stamps` gets each event's ts, in order. */
async function produce(topic: string, count: number, firstStep: number, ratePerSecond?: number, stamps?: number[]): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const chunk = ratePerSecond ? Math.max(1, Math.round(ratePerSecond / 100)) : 1000;
  const start = performance.now();
  for (let i = 0; i < count; i += chunk) {
    const messages = [];
    for (let j = i; j < Math.min(count, i + chunk); j++) {
      const stream = j % STREAMS;
      const ts = Date.now();
      stamps?.push(ts);
      messages.push({ key: `s${stream}`, value: eventValue(stream, firstStep + Math.floor(j / STREAMS), ts) });
    }
    await producer.send({ topic, acks: -1, messages });
    if (ratePerSecond) {
      const due = start + ((i + chunk) * 1000) / ratePerSecond;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
  await producer.disconnect();
}

/** Messages of `topic` that `group` has committed. A broker that has just started may not have its group coordinator ready: retried for up to 30 s. */
async function committed(group: string, topic: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      return offsets[0]!.partitions.reduce((a, p) => a + Math.max(0, Number(p.offset)), 0);
    } catch (err) {
      if ((err as { retriable?: unknown }).retriable !== true || attempt >= 60) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc; NaN where there is no /proc. */
function cpuSeconds(pid: number | undefined): number {
  try {
    // Fields after the parenthesised command name: state is 3rd, utime 14th, stime 15th (clock ticks, 100 a second on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * Threads of a Node process, by the names Node 24 gives them on Linux: the
 * main thread, worker_threads ("WorkerThread": the step thread), V8's
 * platform threads ("V8Worker": GC, compiling), the rest (libuv's pool,
 * signals). A Node that names them otherwise shows everything as other.
 */
const THREAD_KINDS = ['main', 'step', 'v8', 'other'] as const;
type ThreadCpu = Record<(typeof THREAD_KINDS)[number], number>;

/** CPU seconds a process's threads have used so far, by kind; undefined where there is no /proc. A thread that ended is no longer counted. */
function threadCpuSeconds(pid: number | undefined): ThreadCpu | undefined {
  try {
    const sums: ThreadCpu = { main: 0, step: 0, v8: 0, other: 0 };
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      } catch {
        continue; // the thread ended since the listing
      }
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      const kind = tid === String(pid) ? 'main' : name === 'WorkerThread' ? 'step' : name.startsWith('V8Worker') ? 'v8' : 'other';
      sums[kind] += (Number(fields[11]) + Number(fields[12])) / 100;
    }
    return sums;
  } catch {
    return undefined;
  }
}

/**
 * Waits until `group` has committed `total` messages of `topic`. Returns the
 * sustained rate between first and last commit seen, and the CPU time the
 * process `pid` spent per message over the same window (robust to the
 * time-sharing that moves the rate: every process of the benchmark shares 2 cores).
 */
async function drainRate(
  group: string,
  topic: string,
  total: number,
  timeoutMs: number,
  pid: number | undefined,
): Promise<{ rate: number; cpuUsPerEvent: number; threadUsPerEvent: ThreadCpu | undefined }> {
  const deadline = Date.now() + timeoutMs;
  let first: { t: number; n: number; cpu: number; threads: ThreadCpu | undefined } | undefined;
  for (;;) {
    const n = await committed(group, topic);
    const t = performance.now();
    const cpu = cpuSeconds(pid);
    const threads = threadCpuSeconds(pid);
    if (!first && n > 0) first = { t, n, cpu, threads };
    if (n >= total) {
      if (!first || t <= first.t) return { rate: Number.NaN, cpuUsPerEvent: Number.NaN, threadUsPerEvent: undefined };
      const events = n - first.n;
      const from = first.threads;
      const threadUsPerEvent =
        from === undefined || threads === undefined
          ? undefined
          : (Object.fromEntries(THREAD_KINDS.map((k) => [k, ((threads[k] - from[k]) * 1e6) / events])) as ThreadCpu);
      return { rate: (events * 1000) / (t - first.t), cpuUsPerEvent: ((cpu - first.cpu) * 1e6) / events, threadUsPerEvent };
    }
    if (Date.now() > deadline) throw new Error(`${group}: only ${n} of ${total} committed within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** --trace: latency p50/p99/max per 250 ms of event time, to stderr, to see whether the tail is steady or comes in episodes. */
function printTrace(label: string, traced: readonly [number, number, string][]): void {
  if (traced.length === 0) return;
  const start = traced.reduce((m, [ts]) => Math.min(m, ts), Number.POSITIVE_INFINITY);
  const buckets = new Map<number, number[]>();
  for (const [ts, ms] of traced) {
    const b = Math.floor((ts - start) / 250);
    const list = buckets.get(b) ?? [];
    list.push(ms);
    buckets.set(b, list);
  }
  say(`${label} latency by 250 ms of event time: window start (s), events, p50, p99, max (ms)`);
  for (const [b, list] of [...buckets].sort((x, y) => x[0] - y[0])) {
    list.sort((x, y) => x - y);
    const at = (p: number): number => list[Math.min(list.length - 1, Math.floor((list.length * p) / 100))]!;
    say(`${(b / 4).toFixed(2).padStart(6)} ${String(list.length).padStart(5)} ${String(at(50)).padStart(5)} ${String(at(99)).padStart(5)} ${String(list.at(-1)).padStart(5)}`);
  }
}

/** The Node flags the service image runs with (its NODE_OPTIONS), given to the worker and the pass-through alike. */
const IMAGE_NODE_FLAGS = (/^\s*NODE_OPTIONS="([^"]*)"/m.exec(readFileSync(join(ROOT, 'deploy/docker/Dockerfile'), 'utf8'))?.[1] ?? '').split(/\s+/).filter(Boolean);
/** --node-flags: more flags for the same children (profiling, GC tracing); none by default. */
const EXTRA_NODE_FLAGS = args['node-flags'].split(/\s+/).filter(Boolean);

/** SIGTERM, then waits for the exit (SIGKILL after 15 s). */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Waits until `group` has a member and is not rebalancing. */
async function groupStable(group: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { groups } = await admin.describeGroups([group]);
    if (groups[0]?.state === 'Stable' && groups[0].members.length > 0) return;
    if (Date.now() > deadline) throw new Error(`${group} did not settle within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function startChild(script: string, env: Record<string, string>, name: string): ChildProcess {
  const child = spawn(process.execPath, [...IMAGE_NODE_FLAGS, ...EXTRA_NODE_FLAGS, script], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.on('data', (d: Buffer) => {
    const text = d.toString();
    if (/"level":"(error|fatal)"/.test(text) || !text.startsWith('{')) process.stderr.write(`[${name}] ${text}`);
  });
  children.push(child);
  return child;
}

try {
  await mkdir(join(dir, 'bench'), { recursive: true });
  await saveModel(join(dir, 'bench', '1'), {
    name: 'bench',
    version: '1',
    cell: 'lstm',
    inputSize: INPUT,
    hiddenSize: HIDDEN,
    numLayers: LAYERS,
    horizon: HORIZON,
    features,
    targets: features.slice(0, TARGETS),
    outputSize: HORIZON * TARGETS,
  }, initWeights({ cell: 'lstm', inputSize: INPUT, hiddenSize: HIDDEN, numLayers: LAYERS, outputSize: HORIZON * TARGETS }, seededRandom(12345)));

  const events = `${ns}.events`;
  const forecasts = `${ns}.forecasts`;
  const passOut = `${ns}.passthrough`;
  const warmIn = `${ns}.warmup`;
  const warmOut = `${ns}.warmup-out`;
  await admin.createTopics({
    waitForLeaders: true,
    topics: [events, forecasts, `${events}.dlq`, passOut, warmIn, warmOut].map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
  });

  say(`producing ${EVENTS} events over ${STREAMS} streams to ${PARTITIONS} partitions`);
  await produce(events, EVENTS, 0);

  // 1. Worker throughput.
  const metricsPort = await freePort();
  const workerGroup = `${ns}-worker`;
  const worker = startChild(join(ROOT, 'services/worker/src/main.ts'), {
    MODELS_DIR: dir,
    EVENTS_TOPICS: events,
    FORECASTS_TOPIC: forecasts,
    CONSUMER_GROUP: workerGroup,
    STATE_KEY_PREFIX: `${ns}:`,
    CREATE_TOPICS: 'false',
    METRICS_PORT: String(metricsPort),
    PARTITIONS_CONSUMED_CONCURRENTLY: args.concurrency,
    LOG_LEVEL: 'warn',
  }, 'worker');
  say('worker consuming the backlog');
  const { rate: workerRate, cpuUsPerEvent: workerCpu, threadUsPerEvent: workerThreads } = await drainRate(workerGroup, events, EVENTS, 600_000, worker.pid);
  say(`worker: ${workerRate.toFixed(0)} events/s, ${workerCpu.toFixed(1)} µs CPU per event`);

  // 2. Pass-through floor with the same client settings.
  const passGroup = `${ns}-passthrough`;
  const pass = startChild(join(ROOT, 'bench/e2e/passthrough.ts'), { PASS_IN: events, PASS_OUT: passOut, PASS_GROUP: passGroup, PASS_CONCURRENCY: args.concurrency }, 'passthrough');
  const { rate: passRate, cpuUsPerEvent: passCpu } = await drainRate(passGroup, events, EVENTS, 600_000, pass.pid);
  say(`pass-through: ${passRate.toFixed(0)} events/s, ${passCpu.toFixed(1)} µs CPU per event`);
  await stopChild(children.pop()!);

  // 3. Latency at 5,000 events/s: WARMUP_SECONDS at the rate first (not
  // measured), then RATE_SECONDS measured. First through the running worker;
  // then, with the worker stopped, through the pass-through alone: the
  // latency floor of the broker, the client and this measuring process on
  // this machine, in the same conditions (the two are not run at once: on 2
  // cores the second would take the first's CPU).
  /** [event time, latency ms, stream] of every message of a phase, by output topic. */
  const seen = new Map<string, [number, number, string][]>([
    [forecasts, []],
    [passOut, []],
  ]);
  const consumer = kafka.consumer({ groupId: `${ns}-latency`, maxWaitTimeInMs: 20 });
  await consumer.connect();
  await consumer.subscribe({ topics: [forecasts, passOut, warmOut], fromBeginning: false });
  let step = Math.ceil(EVENTS / STREAMS);
  let listening = false;
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const now = Date.now();
      // The broker warm-up's output is read (as the phases' is) but not kept.
      const into = seen.get(batch.topic);
      if (!listening || into === undefined) return;
      for (const m of batch.messages) {
        const { ts, stream } = JSON.parse(m.value!.toString()) as { ts: number; stream: string };
        into.push([ts, now - ts, stream]);
      }
      await Promise.resolve();
    },
  });
  await new Promise((r) => setTimeout(r, 3000));
  listening = true;
  const sorted = (rows: [number, number, string][]): number[] => rows.map(([, ms]) => ms).sort((x, y) => x - y);
  const pctOf = (list: number[], p: number): number => list[Math.min(list.length - 1, Math.floor((list.length * p) / 100))] ?? Number.NaN;

  /**
   * One latency phase through the process `pid`; `atWarmupEnd` runs when the
   * warm-up's events are sent. Also returns that process' CPU time per event
   * from then until the last output arrives.
   */
  async function latencyPhase(outTopic: string, pid: number | undefined, atWarmupEnd: () => void): Promise<{ measured: number[]; warmup: number[]; received: number; sent: number; cpuUsPerEvent: number }> {
    const rows = seen.get(outTopic)!;
    rows.length = 0;
    const warmupSent = RATE * WARMUP_SECONDS;
    const stamps: number[] = [];
    let cpuFrom = Number.NaN;
    const timer = setTimeout(() => {
      cpuFrom = cpuSeconds(pid);
      atWarmupEnd();
    }, WARMUP_SECONDS * 1000);
    await produce(events, warmupSent + RATE * RATE_SECONDS, step, RATE, stamps);
    clearTimeout(timer);
    step += Math.ceil((warmupSent + RATE * RATE_SECONDS) / STREAMS) + 1;
    // The measured window starts at the first event after the warm-up's; events stamped the same millisecond count in it too.
    const measureFrom = stamps[warmupSent]!;
    const sent = stamps.filter((ts) => ts >= measureFrom).length;
    const received = (): number => new Set(rows.filter(([ts]) => ts >= measureFrom).map(([ts, , stream]) => `${stream}@${ts}`)).size;
    const deadline = Date.now() + 30_000;
    while (received() < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const cpuUsPerEvent = ((cpuSeconds(pid) - cpuFrom) * 1e6) / sent;
    if (args.trace) printTrace(outTopic === forecasts ? 'worker' : 'pass-through', rows);
    return { measured: sorted(rows.filter(([ts]) => ts >= measureFrom)), warmup: sorted(rows.filter(([ts]) => ts < measureFrom)), received: received(), sent, cpuUsPerEvent };
  }

  if (BROKER_WARMUP_SECONDS > 0) {
    say(`broker warm-up: ${BROKER_WARMUP_SECONDS} s of the pass-through at ${RATE} events/s on topics of its own (not measured)`);
    const warmGroup = `${ns}-warmup`;
    startChild(join(ROOT, 'bench/e2e/passthrough.ts'), { PASS_IN: warmIn, PASS_OUT: warmOut, PASS_GROUP: warmGroup, PASS_CONCURRENCY: args.concurrency }, 'passthrough');
    await groupStable(warmGroup, 60_000);
    await produce(warmIn, RATE * BROKER_WARMUP_SECONDS, 0, RATE);
    await stopChild(children.pop()!);
  }
  say(`latency through the worker: ${RATE} events/s, ${WARMUP_SECONDS} s warm-up then ${RATE_SECONDS} s measured`);
  const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  // The worker's own pauses in the measured window: its metrics when the warm-up ends and when the window ends.
  let atWarmupEnd: Promise<string> | undefined;
  const workerLatency = await latencyPhase(forecasts, worker.pid, () => {
    atWarmupEnd = scrape();
  });
  const latencies = workerLatency.measured;
  const pct = (p: number): number => pctOf(latencies, p);

  // 4. Round trips per batch and bytes per stream, from the worker's metrics.
  const text = await scrape();
  const metricIn = (t: string, re: RegExp): number => [...t.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  const metric = (re: RegExp): number => metricIn(text, re);
  // prom-client's event-loop delay histogram restarts at every scrape: its max is the window's.
  const before = await (atWarmupEnd ?? Promise.resolve(''));
  const windowDiff = (re: RegExp): number => metricIn(text, re) - metricIn(before, re);
  const loopMaxMs = metric(/^streamcell_worker_nodejs_eventloop_lag_max_seconds (\S+)$/gm) * 1000;
  const gcMs = windowDiff(/^streamcell_worker_nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)$/gm) * 1000;
  const gcCount = windowDiff(/^streamcell_worker_nodejs_gc_duration_seconds_count\{[^}]*\} (\S+)$/gm);
  const windowBatches = windowDiff(/^streamcell_batch_size_events_count (\S+)$/gm);
  const windowGroups = windowDiff(/^streamcell_batch_group_batches_count (\S+)$/gm);
  const windowBatchEvents = windowDiff(/^streamcell_batch_size_events_sum (\S+)$/gm);
  const gcOver10 = gcCount - windowDiff(/^streamcell_worker_nodejs_gc_duration_seconds_bucket\{le="0\.01",[^}]*\} (\S+)$/gm);

  // 3b. The pass-through alone, from the end of the events topic.
  await stopChild(children.pop()!);
  // The group's offsets at the end of the topic, explicitly (kafkajs' resetOffsets to latest commits -1,
  // which its consumer reads as "no offset" and, with fromBeginning, starts the topic over).
  const ends = await admin.fetchTopicOffsets(events);
  await admin.setOffsets({ groupId: passGroup, topic: events, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
  const floorPass = startChild(join(ROOT, 'bench/e2e/passthrough.ts'), { PASS_IN: events, PASS_OUT: passOut, PASS_GROUP: passGroup, PASS_CONCURRENCY: args.concurrency }, 'passthrough');
  await groupStable(passGroup, 60_000);
  say(`latency through the pass-through: ${RATE} events/s, ${WARMUP_SECONDS} s warm-up then ${RATE_SECONDS} s measured`);
  const floorLatency = await latencyPhase(passOut, floorPass.pid, () => {});
  await consumer.disconnect();
  const floorLatencies = floorLatency.measured;
  const warmup = workerLatency.warmup;

  const batches = metric(/^streamcell_batch_size_events_count (\S+)$/gm);
  const batchEvents = metric(/^streamcell_batch_size_events_sum (\S+)$/gm);
  const groups = metric(/^streamcell_batch_group_batches_count (\S+)$/gm);
  // Mean milliseconds of a histogram over the whole run, or (window) over the measured window at the rate.
  const meanMs = (name: string, labels: string, window = false): string => {
    const of = window ? windowDiff : metric;
    const sum = of(new RegExp(`^${name}_sum${labels} (\\S+)$`, 'gm'));
    const count = of(new RegExp(`^${name}_count${labels} (\\S+)$`, 'gm'));
    return count > 0 ? ((sum / count) * 1000).toFixed(2) : '-';
  };
  const batchMeans = (window: boolean): string =>
    [meanMs('streamcell_redis_round_trip_seconds', '\\{op="load"\\}', window), meanMs('streamcell_redis_round_trip_seconds', '\\{op="save"\\}', window), meanMs('streamcell_step_seconds', '\\{model="bench"\\}', window)].join(' / ');
  const trips = metric(/^streamcell_redis_round_trip_seconds_count\{op="(?:load|save)"\} (\S+)$/gm);
  const stored = (await redis.getBuffer(`${ns}:state:bench:s1`))!.length;
  const memoryUsage = Number(await redis.call('MEMORY', 'USAGE', `${ns}:state:bench:s1`));
  const budget = 2 * LAYERS * HIDDEN * 4 + HORIZON * HORIZON * TARGETS * 4 + 64;

  const result = {
    events_per_s: Math.round(workerRate),
    passthrough_events_per_s: Math.round(passRate),
    ratio: Math.round((workerRate / passRate) * 1000) / 1000,
    p50_ms: pct(50),
    p99_ms: pct(99),
    redis_round_trips_per_batch: batches > 0 ? Math.round((trips / batches) * 100) / 100 : 0,
  };
  const rows: [string, string][] = [
    ['machine', `${hostname()}, ${cpus().length} x ${cpus()[0]?.model ?? '?'}, Node ${process.versions.node}`],
    ['setup', `1 worker, ${STREAMS} streams, LSTM ${LAYERS}x${HIDDEN}, input ${INPUT}, horizon ${HORIZON}, ${PARTITIONS} partitions, ${EVENTS} events`],
    ['Node flags of the worker and the pass-through (the image\'s NODE_OPTIONS, then --node-flags)', [...IMAGE_NODE_FLAGS, ...EXTRA_NODE_FLAGS].join(' ') || '(none)'],
    ['worker events/s (sustained)', String(result.events_per_s)],
    ['pass-through events/s', String(result.passthrough_events_per_s)],
    ['ratio (target >= 0.6)', String(result.ratio)],
    ['CPU per event: worker / pass-through (µs, all threads; not in the JSON)', `${workerCpu.toFixed(1)} / ${passCpu.toFixed(1)} (ratio ${(passCpu / workerCpu).toFixed(3)})`],
    [
      'worker CPU per event while draining, by thread: main / step thread / V8 helpers (GC, compiling) / other (µs)',
      workerThreads === undefined ? 'n/a (no /proc)' : THREAD_KINDS.map((k) => workerThreads[k].toFixed(1)).join(' / '),
    ],
    [`latency p50 at ${RATE}/s (ms)`, String(result.p50_ms)],
    [`latency p99 at ${RATE}/s (ms, target <= 50)`, String(result.p99_ms)],
    [`pass-through alone, latency p50 / p99 at ${RATE}/s (ms, the floor; not in the JSON)`, `${pctOf(floorLatencies, 50)} / ${pctOf(floorLatencies, 99)} (${floorLatency.received} of ${floorLatency.sent} received)`],
    [`CPU per event at ${RATE}/s in the measured window: worker / pass-through alone (µs, all threads; not in the JSON)`, `${workerLatency.cpuUsPerEvent.toFixed(1)} / ${floorLatency.cpuUsPerEvent.toFixed(1)}`],
    ['worker in the measured window: GC pauses, total ms, over 10 ms (lower bounds); event-loop delay max ms', `${gcCount}, ${gcMs.toFixed(0)}, ${gcOver10}; ${loopMaxMs.toFixed(0)}`],
    ['forecasts received in the measured window (distinct events)', `${workerLatency.received} of ${workerLatency.sent}`],
    [`latency p50 / p99 in the ${WARMUP_SECONDS} s warm-up (ms, not in the JSON)`, `${pctOf(warmup, 50)} / ${pctOf(warmup, 99)}`],
    ['broker warm-up before the latency phases (not measured)', BROKER_WARMUP_SECONDS > 0 ? `${BROKER_WARMUP_SECONDS} s of the pass-through at ${RATE}/s on its own topics` : 'none'],
    // The JSON's figure is per partition batch (below 2 where batches share groups); the group is the unit that makes 2.
    ['Redis round trips per partition batch / per group of batches handled together (target 2)', `${result.redis_round_trips_per_batch} / ${groups > 0 ? (trips / groups).toFixed(2) : '-'}`],
    ['partition batches per group: whole run / measured window at the rate', `${groups > 0 ? (batches / groups).toFixed(1) : '-'} / ${windowGroups > 0 ? (windowBatches / windowGroups).toFixed(1) : '-'}`],
    ['mean events per partition batch: whole run / measured window at the rate', `${(batchEvents / batches).toFixed(1)} / ${(windowBatchEvents / windowBatches).toFixed(1)} (about ${(windowBatches / RATE_SECONDS).toFixed(0)} batches/s)`],
    ['partitions consumed concurrently', args.concurrency],
    ['Kafka consumers per process, worker and pass-through (KAFKA_CONSUMERS)', process.env.KAFKA_CONSUMERS ?? '1'],
    ['mean ms per Redis round trip, load / save (one each per group, more after conflicts), and per step job, kernel: whole run; measured window at the rate', `${batchMeans(false)}; ${batchMeans(true)}`],
    ['state value bytes per stream', `${stored} (budget ${budget})`],
    ['Redis MEMORY USAGE per stream key', `${memoryUsage} bytes`],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
  await mkdir(join(ROOT, 'bench/results'), { recursive: true });
  await writeFile(join(ROOT, 'bench/results', `e2e-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.json`), JSON.stringify({ ...result, rows }, null, 2));
  console.log(JSON.stringify(result));
} finally {
  await cleanup();
}
