/**
 * The replayer service as compose runs it: `node services/replayer/src/main.ts`
 * configured by environment variables, serving /metrics, stopped by SIGTERM.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/prometheus.ts';
import { openTestEnv, type TestEnv } from '../../../test/support/services.ts';

const MAIN = join(import.meta.dirname, '..', 'src', 'main.ts');

let env: TestEnv;
beforeAll(async () => {
  env = await openTestEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

/** The value of an unlabelled series in Prometheus text. */
function sample(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (m === null) throw new Error(`no ${name} in /metrics:\n${text.slice(0, 2000)}`);
  return Number(m[1]);
}

describe('replayer service', () => {
  it('runs from environment variables, serves its metrics, and on SIGTERM finishes its sends and exits 0', async () => {
    const topic = await env.createTopic('events', 2);
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH ?? '',
        KAFKA_BROKERS: env.brokers.join(','),
        EVENTS_TOPIC: topic,
        REPLAY_DATASET: 'sensor',
        REPLAY_RATE: '200',
        REPLAY_LOOP: 'true',
        CREATE_TOPICS: 'false',
        METRICS_PORT: String(port),
        METRICS_HOST: '127.0.0.1',
        PROGRESS_INTERVAL_SECONDS: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      // Wait until it has sent something, as /metrics tells.
      let text = '';
      const deadline = Date.now() + 30_000;
      for (;;) {
        text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
        if (text !== '' && sample(text, 'streamcell_replayer_events_sent_total') >= 100) break;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no progress within 30 s:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(sample(text, 'streamcell_replayer_target_events_per_second')).toBe(200);
      expect(sample(text, 'streamcell_replayer_send_errors_total')).toBe(0);
      expect(sample(text, 'streamcell_replayer_passes_total')).toBe(1);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const lines = out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { msg: string; reason?: string; sent?: number; errors?: number });
      const finished = lines.find((l) => l.msg === 'replay finished');
      expect(finished).toMatchObject({ reason: 'stopped', errors: 0 });
      expect(finished!.sent).toBeGreaterThanOrEqual(100);
      // Not a terminal: plain progress lines on stderr, no carriage returns.
      expect(err).toMatch(/^ +\d+ s {2}sent [\d,]+ {2}rate/m);
      expect(err).not.toContain('\r');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
