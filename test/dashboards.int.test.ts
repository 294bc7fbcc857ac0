/**
 * Proof of the dashboards: a whole stack on this machine, scraped by Debian's
 * real Prometheus, and every query an operator sees evaluated through its
 * HTTP API. Each panel expression and each recording rule must return data;
 * each alert expression must evaluate, and every metric it reads must be
 * scraped (an alert returns data only while it fires; promtool's unit tests
 * in deploy/prometheus/tests prove that they do).
 *
 * The stack: the real Kafka and Redis (global setup), two workers
 * (services/worker as child processes, on a copy of models/ with one broken
 * model added so that the load-failure panel has something to show), the
 * replayer as a child process feeding Seattle's weather, and the gateway
 * (services/gateway as a child process on the same topics, models and Redis
 * keys). What the panels show is provoked on purpose:
 *   - dead letters of several codes: the test sends bad events;
 *   - state resets (reset_flag): a first, short replay leaves state behind,
 *     and the second replay starts each stream afresh (its first event
 *     carries `reset`);
 *   - compare-and-set conflicts and redelivery skips: the two workers are in
 *     different consumer groups over the same topic and the same Redis keys,
 *     so both step every event and the slower one's save finds the state
 *     already moved on (a rebalance does this in production);
 *   - a cross-partition event: one stream's second event is written to
 *     another partition than its first;
 *   - model load failures: the broken model;
 *   - the gateway's panels: the test posts good events and bad ones (a body
 *     that is not JSON, unknown features, an unknown model, a half-bad
 *     batch) in two rounds, so that each refusal code's series exists before
 *     it grows and rate() sees it, and holds one live (server-sent events)
 *     subscription open while the queries run.
 * Adding a service to the scrape is one entry in `jobs` below.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Partitioners, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, metricNames, panelQueries, ruleQueries, variableQueries } from './support/dashboards.ts';
import { freePort, startPrometheus, type TestPrometheus } from './support/prometheus.ts';
import { openTestEnv, type TestEnv } from './support/services.ts';
import { WorkerProcess, killAll, workerEnv } from '../services/worker/test/support/worker-process.ts';

const RULE_FILES = ['alerts.yml', 'recording.yml'].map((f) => join(REPO_ROOT, 'deploy', 'prometheus', 'rules', f));
const PARTITIONS = 4;
/** Grafana's $__rate_interval is four scrape intervals at least; the test scrapes every second. */
const RATE_INTERVAL = '15s';
/** $__range: longer than the whole test, so that increase() sees every sample. */
const RANGE = '10m';

let env: TestEnv;
let dir: string;
let prometheus: TestPrometheus | undefined;
let producer: Producer | undefined;
const workers: WorkerProcess[] = [];
const replayers: ChildProcess[] = [];
const groups: string[] = [];
let gateway: { child: ChildProcess; exited: Promise<number | null> } | undefined;
/** Ends the live subscription (in afterAll too, should the test fail while it is open). */
const live = new AbortController();

/** Starts the replayer service (`node services/replayer/src/main.ts`) with `extra` settings; its output goes to a log file. */
function startReplayer(name: string, extra: Record<string, string>): { child: ChildProcess; exited: Promise<number | null> } {
  const out = createWriteStream(join(dir, `${name}.log`));
  const child = spawn(process.execPath, [join(REPO_ROOT, 'services', 'replayer', 'src', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KAFKA_BROKERS: env.brokers.join(','), CREATE_TOPICS: 'false', METRICS_HOST: '127.0.0.1', LOG_LEVEL: 'info', PROGRESS_INTERVAL_SECONDS: '5', ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(out, { end: false });
  child.stderr.pipe(out, { end: false });
  replayers.push(child);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, exited };
}

/**
 * Starts the gateway service (`node services/gateway/src/main.ts`) on `port`
 * with the test's topics, models and key prefix; its output goes to a log
 * file. Resolves once /readyz answers 200 (its live feed joined).
 */
async function startGateway(port: number, wiring: { events: string; forecasts: string; models: string }): Promise<void> {
  const out = createWriteStream(join(dir, 'gateway.log'));
  const child = spawn(process.execPath, [join(REPO_ROOT, 'services', 'gateway', 'src', 'main.ts')], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      KAFKA_BROKERS: env.brokers.join(','),
      REDIS_URL: env.redisUrl,
      MODELS_DIR: wiring.models,
      DEFAULT_MODEL: 'weather',
      MODEL_POLL_MS: '1000',
      EVENTS_TOPIC: wiring.events,
      FORECASTS_TOPIC: wiring.forecasts,
      CREATE_TOPICS: 'false',
      // The workers' prefix and TTL (workerEnv), so that the gateway reads the states they write.
      STATE_KEY_PREFIX: env.keyPrefix,
      STATE_TTL_SECONDS: '3600',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(out, { end: false });
  child.stderr.pipe(out, { end: false });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  gateway = { child, exited };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode} at start; see ${join(dir, 'gateway.log')}`);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`the gateway was not ready within 60 s; see ${join(dir, 'gateway.log')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** SIGTERM (the gateway drains and leaves its live feed's group), SIGKILL after 15 s. */
async function stopGateway(): Promise<void> {
  if (gateway === undefined) return;
  const { child, exited } = gateway;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

beforeAll(async () => {
  env = await openTestEnv();
  dir = join(REPO_ROOT, 'test-artifacts', 'dashboards', env.ns);
  mkdirSync(dir, { recursive: true });
});

afterAll(async () => {
  live.abort();
  await prometheus?.stop();
  await stopGateway();
  for (const r of replayers) if (r.exitCode === null && r.signalCode === null) r.kill('SIGKILL');
  await killAll(workers);
  await producer?.disconnect();
  if (groups.length > 0) await env?.admin.deleteGroups(groups).catch(() => {});
  await env?.cleanup();
});

describe('the Grafana dashboards and Prometheus rules against a running stack', () => {
  it('get data from a real Prometheus for every panel query and recording rule, and every alert reads scraped metrics', { timeout: 240_000 }, async () => {
    const events = await env.createTopic('events', PARTITIONS);
    const forecasts = await env.createTopic('forecasts', PARTITIONS);
    await env.createTopic('events.dlq', 1);

    // Models: the weather model, plus a broken one for the load-failure panel.
    const models = await mkdtemp(join(tmpdir(), 'streamcell-dashboards-models-'));
    await cp(join(REPO_ROOT, 'models', 'weather'), join(models, 'weather'), { recursive: true });
    await mkdir(join(models, 'broken', '1'), { recursive: true });
    await writeFile(join(models, 'broken', '1', 'model.json'), '{"format": "streamcell/v1", "name": "broken"');

    try {
      // A first, short replay leaves weather-seattle's state behind for the second to reset.
      const first = startReplayer('replayer-first', { EVENTS_TOPIC: events, REPLAY_DATASET: 'weather', REPLAY_RATE: '500', REPLAY_LIMIT: '20', METRICS_PORT: '0' });

      for (const name of ['worker-a', 'worker-b']) {
        const group = `${env.ns}-${name}`;
        groups.push(group);
        const wiring = { brokers: env.brokers, redisUrl: env.redisUrl, eventsTopic: events, forecastsTopic: forecasts, group, keyPrefix: env.keyPrefix };
        workers.push(await WorkerProcess.start(name, workerEnv(wiring, { MODELS_DIR: models, DEFAULT_MODEL: 'weather', MODEL_POLL_MS: '1000' }), dir));
      }
      expect(await first.exited, 'the first replay ends after its 20 events').toBe(0);

      const replayerPort = await freePort();
      startReplayer('replayer', { EVENTS_TOPIC: events, REPLAY_DATASET: 'weather', REPLAY_RATE: '40', REPLAY_LOOP: 'true', METRICS_PORT: String(replayerPort) });

      // The gateway serves /metrics on its API port.
      const gatewayPort = await freePort();
      await startGateway(gatewayPort, { events, forecasts, models });
      const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;

      // One line per service.
      const jobs: Record<string, string[]> = {
        worker: workers.map((w) => `127.0.0.1:${w.metricsPort}`),
        replayer: [`127.0.0.1:${replayerPort}`],
        gateway: [`127.0.0.1:${gatewayPort}`],
      };
      prometheus = await startPrometheus({ jobs, ruleFiles: RULE_FILES, logDir: dir });
      const prom = prometheus;

      // Waits until a query returns data (Prometheus scrapes every second).
      const waitFor = async (what: string, expr: string, timeoutMs = 90_000): Promise<void> => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          if ((await prom.query(expr)).length > 0) return;
          if (Date.now() > deadline) {
            const down = (await prom.targets()).filter((t) => t.health !== 'up');
            throw new Error(`no ${what} within ${timeoutMs / 1000} s (${expr}); targets not up: ${JSON.stringify(down)}; logs in ${dir}`);
          }
          await new Promise((r) => setTimeout(r, 1000));
        }
      };
      // The workers' counters are scraped at 0 before anything happens, as in a
      // long-running deployment, so that increase() sees every dead letter.
      await waitFor('both workers scraped', 'count(up{job="worker"} == 1) == 2');
      await waitFor('the gateway scraped', 'up{job="gateway"} == 1');

      // Bad events, one or more per code, and the first event of a stream that will move partition.
      producer = env.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      const values = { precipitation: 0, temp_max: 12, temp_min: 4, wind: 2 };
      await producer.send({
        topic: events,
        messages: [
          { key: 'probe-bad-1', value: '{"stream": "probe-bad-1", "ts": ' },
          { key: 'probe-bad-2', value: JSON.stringify({ stream: 'probe-bad-2', ts: 1, values: 'warm' }) },
          { key: 'probe-bad-3', value: JSON.stringify({ stream: 'probe-bad-3', ts: 1, values: { humidity: 3 } }) },
          { key: 'probe-bad-4', value: JSON.stringify({ stream: 'probe-bad-4', ts: 1, values, model: 'no-such-model' }) },
          { key: 'weather-seattle', value: JSON.stringify({ stream: 'weather-seattle', ts: 0, values }) },
          { key: 'probe-moving', value: JSON.stringify({ stream: 'probe-moving', ts: 1000, values }), partition: 0 },
        ],
      });

      // The gateway: good events and bad ones over HTTP, each request's answer as the API documents it.
      const post = async (body: string): Promise<number> => {
        const res = await fetch(`${gatewayUrl}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await res.arrayBuffer();
        return res.status;
      };
      const probe = (i: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ stream: `gateway-probe-${i}`, ts: Date.now(), values, ...extra });
      const gatewayRound = async (): Promise<void> => {
        expect(await post(JSON.stringify(probe(1))), 'one good event').toBe(202);
        expect(await post(JSON.stringify([probe(2), probe(3), probe(4)])), 'a good batch').toBe(202);
        expect(await post('{"stream": "gateway-probe-5", "ts": '), 'a body that is not JSON').toBe(400);
        expect(await post(JSON.stringify(probe(6, { values: { humidity: 3 } }))), 'unknown features').toBe(422);
        expect(await post(JSON.stringify(probe(7, { model: 'no-such-model' }))), 'an unknown model').toBe(422);
        expect(await post(JSON.stringify([probe(8), probe(9, { values: { humidity: 3 } })])), 'a half-bad batch').toBe(207);
      };
      await gatewayRound();
      await waitFor('the gateway\'s refusals scraped', 'count(streamcell_gateway_events_rejected_total > 0) >= 3');
      await gatewayRound();

      // One live subscriber, reading Seattle's forecasts until the queries are done.
      const liveRes = await fetch(`${gatewayUrl}/v1/streams/weather-seattle/live`, { signal: live.signal });
      expect(liveRes.status).toBe(200);
      let liveText = '';
      const liveReading = (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of liveRes.body!) liveText += decoder.decode(chunk as Uint8Array, { stream: true });
      })().catch(() => undefined);

      await waitFor('forecasts', 'sum(streamcell_forecasts_total) > 0');
      await producer.send({ topic: events, messages: [{ key: 'probe-moving', value: JSON.stringify({ stream: 'probe-moving', ts: 2000, values }), partition: 1 }] });
      await waitFor('dead letters of four or more codes', 'count(streamcell_dead_letters_total > 0) >= 4');
      await waitFor('a reset by flag', 'streamcell_state_resets_total{reason="reset_flag"} > 0');
      await waitFor('a cross-partition event', 'sum(streamcell_cross_partition_events_total) > 0');
      await waitFor('a model load failure', 'streamcell_model_load_failures_total{model="broken"} > 0');
      await waitFor('scored forecasts', 'sum(streamcell_forecasts_scored_total) > 0');
      await waitFor('recording rules evaluated', 'streamcell:forecasts:rate1m');
      await waitFor('the live subscriber scraped', 'sum(streamcell_gateway_live_clients) >= 1');
      await waitFor('forecasts sent to the live subscriber', 'sum(streamcell_gateway_live_messages_total) > 0');

      const modelValues = await prom.labelValues('model', 'streamcell_forecasts_scored_total');
      expect(modelValues).toContain('weather');
      const substitute = (expr: string): string =>
        expr.replaceAll('$__rate_interval', RATE_INTERVAL).replaceAll('$__range', RANGE).replaceAll('$model', modelValues.join('|'));

      const queries = [
        ...panelQueries().map((q) => ({ ...q, needsData: true })),
        ...ruleQueries().map((r) => ({ where: r.where, expr: r.expr, needsData: r.kind === 'record' })),
        ...ruleQueries()
          .filter((r) => r.kind === 'record')
          .map((r) => ({ where: `series of ${r.where}`, expr: r.name, needsData: true })),
        ...ruleQueries()
          .filter((r) => r.kind === 'alert')
          .flatMap((r) => metricNames(r.expr).map((m) => ({ where: `metric ${m} read by ${r.where}`, expr: m === 'up' ? 'up{job="worker"}' : m, needsData: true }))),
      ];
      expect(queries.length).toBeGreaterThan(50);
      for (const v of variableQueries()) expect((await prom.labelValues(v.label, v.metric)).length, v.where).toBeGreaterThan(0);

      // Rates need a few samples inside their window: retry the empty ones for a while.
      let empty: { where: string; expr: string }[] = [];
      const deadline = Date.now() + 60_000;
      for (;;) {
        empty = [];
        for (const q of queries) {
          const result = await prom.query(substitute(q.expr));
          if (q.needsData && result.length === 0) empty.push({ where: q.where, expr: substitute(q.expr) });
        }
        if (empty.length === 0 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 2000));
      }
      expect(empty, `queries without data (logs in ${dir})`).toEqual([]);

      // What was provoked shows as such, not only as a zero.
      const value = async (expr: string): Promise<number> => Number((await prom.query(expr))[0]?.value?.[1] ?? Number.NaN);
      expect(await value('count(streamcell_dead_letters_total > 0)')).toBeGreaterThanOrEqual(4);
      // The dead-letter counters start at 0 per code, so the range panels count the first ones too.
      expect(await value(`sum(increase(streamcell_dead_letters_total[${RANGE}]))`)).toBeGreaterThan(0);
      expect(await value('sum(streamcell_state_resets_total{reason="reset_flag"})')).toBeGreaterThan(0);
      expect(await value('sum(streamcell_active_streams)')).toBeGreaterThan(0);
      expect(await value('sum(streamcell_replayer_events_sent_total)')).toBeGreaterThan(0);
      // Two rounds, each of 5 events accepted and 4 refused (malformed_json, unknown_feature twice, unknown_model).
      expect(await value('sum(streamcell_gateway_events_accepted_total)')).toBe(10);
      expect(await value('sum(streamcell_gateway_events_rejected_total)')).toBe(8);
      expect(await value('count(streamcell_gateway_events_rejected_total > 0)')).toBe(3);
      expect(await value(`sum(increase(streamcell_gateway_events_rejected_total[${RANGE}]))`), 'the second round shows as an increase').toBeGreaterThan(0);
      expect(await value('sum(streamcell_gateway_live_clients)')).toBe(1);
      live.abort();
      await liveReading;
      expect(liveText).toContain('event: forecast');
      const conflicts = await value('sum(streamcell_state_conflicts_total)');
      const skipped = await value('sum(streamcell_replayed_events_skipped_total)');
      await writeFile(join(dir, 'summary.json'), JSON.stringify({ queries: queries.length, conflicts, skipped }, null, 2));
      // Two groups stepping the same streams: the slower save loses (and its redo skips what is saved).
      expect(conflicts).toBeGreaterThan(0);
      expect(skipped).toBeGreaterThan(0);
      // The quiet alert stays quiet: forecasts flow.
      expect(await prom.query(ruleQueries().find((r) => r.name === 'StreamcellNoForecasts')!.expr)).toEqual([]);
    } finally {
      await rm(models, { recursive: true, force: true });
    }
  });
});
