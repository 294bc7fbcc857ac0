/**
 * The one-command demo (`./run demo`): a worker, a feed of real data and the
 * forecasts it publishes, printed as they arrive, with /metrics served.
 *
 * Data: Seattle's daily weather 2012-2015 (vega-datasets, BSD-3-Clause), sent
 * day by day as events of the stream "seattle" to the weather model (the
 * worker serves its highest version: models/weather/2, trained by
 * `streamcell train` on the first 80% of the days; weather/1 is the same
 * task trained with PyTorch). Without KAFKA_BROKERS
 * and REDIS_URL everything runs in this process (an in-memory log and state
 * store behind the same interfaces); with them, the feed goes through Kafka
 * and the state lives in Redis.
 *
 *   node services/worker/src/demo.ts [--rate EVENTS_PER_S] [--limit N] [--follow] [--quiet]
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { StreamcellError, type ForecastMessage } from '@streamcell/protocol';
import { KafkaSink, KafkaSource, type Sink } from '@streamcell/streams';
import { createLogger, redactUrl } from '@streamcell/telemetry';
import { describeConfig, loadConfig } from './config.ts';
import { buildWorker } from './build.ts';

const FEATURES = ['precipitation', 'temp_max', 'temp_min', 'wind'];
const STREAM = 'seattle';
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '250' },
    limit: { type: 'string' },
    follow: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('usage: ./run demo [--rate EVENTS_PER_S] [--limit N] [--follow] [--quiet]');
  process.exit(0);
}
const rate = Number(args.rate);
if (!(rate > 0)) {
  console.error(`--rate must be a positive number of events per second, got ${args.rate}`);
  process.exit(2);
}

let config;
try {
  config = loadConfig({ MODELS_DIR: join(ROOT, 'models'), ...process.env, DEFAULT_MODEL: process.env.DEFAULT_MODEL ?? 'weather' });
} catch (err) {
  console.error(err instanceof StreamcellError ? err.message : String(err));
  process.exit(2);
}
// Forecasts go to stdout; the worker's JSON logs to stderr, warnings and up.
const log = createLogger({ name: 'streamcell-demo', level: process.env.LOG_LEVEL ?? 'warn', destination: process.stderr });
log.info({ config: describeConfig(config, redactUrl) }, 'starting');

// The package exports only its JS entry (build/index.js); the CSVs sit beside it in data/.
const csvPath = join(dirname(createRequire(import.meta.url).resolve('vega-datasets')), '..', 'data', 'seattle-weather.csv');
const rows = parse<Record<string, string>>(await readFile(csvPath, 'utf8'), { columns: true }).slice(0, args.limit ? Number(args.limit) : undefined);

const built = await buildWorker(config, log);
const { worker, memoryLog } = built;
await worker.start();
const mode = memoryLog ? 'embedded (in-memory log and state)' : `Kafka ${config.kafkaBrokers?.join(',')} + Redis ${redactUrl(config.redisUrl ?? '')}`;
console.log(`streamcell demo: ${rows.length} days of Seattle weather -> model weather, ${mode}; metrics on http://127.0.0.1:${worker.metricsPort}/metrics`);
console.log('date        forecast temp_max (+1d +2d +3d)   temp_min (+1d +2d +3d)   last 1-day error (max, min)');

// Forecasts out: straight from the in-memory log, or a consumer on the topic.
let received = 0;
const print = (f: ForecastMessage): void => {
  received += 1;
  if (args.quiet) return;
  const day = new Date(f.ts).toISOString().slice(0, 10);
  const fmt = (t: string): string => f.forecast.map((s) => s[t]!.toFixed(1).padStart(5)).join(' ');
  const err = f.error ? `${f.error.temp_max!.toFixed(1).padStart(5)} ${f.error.temp_min!.toFixed(1).padStart(5)}` : '    -     -';
  console.log(`${day}  ${fmt('temp_max')}        ${fmt('temp_min')}        ${err}`);
};
let stopReader: () => Promise<void>;
let sink: Sink;
if (memoryLog) {
  let seen = 0;
  const timer = setInterval(() => {
    const all = memoryLog.read(config.forecastsTopic);
    for (; seen < all.length; seen++) print(JSON.parse(all[seen]!.value!.toString()) as ForecastMessage);
  }, 50);
  stopReader = () => {
    clearInterval(timer);
    const all = memoryLog.read(config.forecastsTopic);
    for (; seen < all.length; seen++) print(JSON.parse(all[seen]!.value!.toString()) as ForecastMessage);
    return Promise.resolve();
  };
  sink = memoryLog.sink();
  await sink.connect();
} else {
  const reader = new KafkaSource({ brokers: config.kafkaBrokers!, clientId: 'streamcell-demo', groupId: `streamcell-demo-${process.pid}-${Date.now()}`, topics: [config.forecastsTopic], fromBeginning: false });
  await reader.start(async (batch, control) => {
    for (const m of batch.messages) {
      const f = JSON.parse(m.value!.toString()) as ForecastMessage;
      if (f.stream === STREAM) print(f);
    }
    await control.commit((BigInt(batch.messages.at(-1)!.offset) + 1n).toString());
  });
  stopReader = () => reader.stop();
  sink = new KafkaSink({ brokers: config.kafkaBrokers!, clientId: 'streamcell-demo-feed' });
  await sink.connect();
}

// Events in, at the requested rate, in order.
const topic = config.eventsTopics[0]!;
const started = performance.now();
for (let i = 0; i < rows.length; i++) {
  const r = rows[i]!;
  const event = { stream: STREAM, ts: Date.parse(`${r.date}T00:00:00Z`), values: Object.fromEntries(FEATURES.map((f) => [f, Number(r[f])])) };
  // The first event of the run starts the stream afresh, so runs against a long-lived Redis repeat.
  if (i === 0) Object.assign(event, { reset: true });
  await sink.send([{ topic, messages: [{ key: STREAM, value: JSON.stringify(event) }] }]);
  const due = started + ((i + 1) * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
}

// Wait for the last forecast, then report how the model did against persistence.
const deadline = Date.now() + 30_000;
while (received < rows.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
await new Promise((r) => setTimeout(r, 100));
const metrics = await built.metrics.registry.getMetricsAsJSON();
const sum = (name: string, step: string): number =>
  metrics.find((m) => m.name === name)?.values.filter((v) => v.labels.model === 'weather' && v.labels.step === step).reduce((a, v) => a + v.value, 0) ?? 0;
console.log(`\n${received} forecasts for ${rows.length} events. Online mean absolute error over both targets (degrees C):`);
for (const step of ['1', '2', '3']) {
  const n = sum('streamcell_forecasts_scored_total', step);
  const mae = sum('streamcell_forecast_abs_error_sum', step) / n;
  const naive = sum('streamcell_naive_abs_error_sum', step) / n;
  console.log(`  +${step} day: model ${mae.toFixed(3)}, persistence ${naive.toFixed(3)}, skill ${(1 - mae / naive).toFixed(3)} (${n} scored)`);
}
if (received < rows.length) console.error(`only ${received} of ${rows.length} forecasts arrived within 30 s`);

if (args.follow) {
  console.log(`\nfeed done; still serving http://127.0.0.1:${worker.metricsPort}/metrics (Ctrl-C to stop)`);
  const stop = (): void => {
    void stopReader().then(() => worker.stop()).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} else {
  await stopReader();
  if (!memoryLog) await sink.disconnect();
  await worker.stop();
  built.dispose();
  process.exit(received === rows.length ? 0 : 1);
}
