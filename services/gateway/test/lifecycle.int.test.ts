/**
 * The gateway as the image runs it, `node services/gateway/src/main.ts`:
 * bad configuration stops it with one line per variable (exit 2); on the
 * real Kafka and Redis it creates its topics, becomes ready, and on SIGTERM
 * ends its live streams, drains and exits 0.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestEnv, type TestEnv } from '../../../test/support/services.ts';
import { REFUSAL_CODES } from '../src/ingest.ts';
import { MODELS_DIR, REPO_ROOT, readEvents, until } from './support/stack.ts';

const MAIN = join(REPO_ROOT, 'services', 'gateway', 'src', 'main.ts');

interface Run {
  readonly lines: Record<string, unknown>[];
  stderr: string;
  readonly exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

function run(env: Record<string, string>): Run {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const r: Run = {
    lines: [],
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    kill: (signal) => child.kill(signal),
  };
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      try {
        r.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr.on('data', (d: Buffer) => {
    r.stderr += d.toString();
  });
  return r;
}

describe('gateway process', () => {
  it('refuses bad configuration with one line per variable and exit code 2', async () => {
    const r = run({ KAFKA_BROKERS: 'nope', REDIS_URL: 'redis://127.0.0.1:6379', PORT: 'eighty', LIVE_HISTORY: '0' });
    expect(await r.exited).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe('invalid configuration:');
    expect(lines.slice(1).map((l) => l.trim().split(/[=:]/)[0]).sort()).toEqual(['KAFKA_BROKERS', 'LIVE_HISTORY', 'PORT']);
  });

  describe('on Kafka and Redis', () => {
    let env: TestEnv;
    const created: string[] = [];
    beforeAll(async () => {
      env = await openTestEnv();
    });
    afterAll(async () => {
      if (created.length > 0) await env.admin.deleteTopics({ topics: created }).catch(() => {});
      await env.cleanup();
    });

    it('creates its topics, becomes ready, and on SIGTERM ends live streams, drains and exits 0', async () => {
      const eventsTopic = env.topic('events');
      const forecastsTopic = env.topic('forecasts');
      created.push(eventsTopic, forecastsTopic);
      const r = run({
        KAFKA_BROKERS: env.brokers.join(','),
        REDIS_URL: env.redisUrl,
        MODELS_DIR,
        EVENTS_TOPIC: eventsTopic,
        FORECASTS_TOPIC: forecastsTopic,
        TOPIC_PARTITIONS: '3',
        STATE_KEY_PREFIX: env.keyPrefix,
        PORT: '0',
        HOST: '127.0.0.1',
      });
      try {
        await until(() => r.lines.some((l) => l.msg === 'gateway running'), 'gateway running', 60_000);
        const port = r.lines.find((l) => l.msg === 'gateway running')!.port as number;
        const base = `http://127.0.0.1:${port}`;
        const topics = await env.admin.fetchTopicMetadata({ topics: [eventsTopic, forecastsTopic] });
        expect(topics.topics.map((t) => t.partitions.length)).toEqual([3, 3]);
        await until(async () => (await fetch(`${base}/readyz`)).status === 200, 'ready', 60_000);
        // Every refusal code is exported at 0 from the start, so that increase() counts the first refusal of each.
        const metricsText = await (await fetch(`${base}/metrics`)).text();
        for (const code of REFUSAL_CODES) expect(metricsText).toContain(`streamcell_gateway_events_rejected_total{code="${code}"} 0`);

        const live = await fetch(`${base}/v1/streams/s-1/live`);
        const ended = readEvents(live, () => false);
        r.kill('SIGTERM');
        // The live stream ends (rather than holding the shutdown up), then the process exits cleanly.
        expect((await ended).map((e) => e.event)).toEqual(['ready']);
        expect(await r.exited).toBe(0);
        const messages = r.lines.map((l) => l.msg);
        expect(messages).toEqual(expect.arrayContaining(['signal received', 'draining', 'stopped']));
        // Components log through child loggers that say who they are.
        expect([...new Set(r.lines.map((l) => l.component))]).toEqual(expect.arrayContaining(['models', 'gateway', 'kafka', 'http']));
      } finally {
        r.kill('SIGKILL');
      }
    });
  });
});
