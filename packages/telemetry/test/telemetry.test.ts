import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { STATE_RESET_REASONS, createGatewayMetrics, createLogger, createReplayerMetrics, createWorkerMetrics, redactUrl, startHealthServer } from '../src/index.ts';

describe('logger', () => {
  it('writes JSON lines with structured fields and redacts secrets', async () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (d: Buffer) => lines.push(...d.toString().trim().split('\n')));
    const log = createLogger({ name: 'worker', destination: out }).child({ component: 'pipeline' });
    log.info({ stream: 's-1', partition: 3, config: { GATEWAY_TOKEN: 'hunter2' } }, 'stepped');
    await new Promise((r) => setImmediate(r));
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'info', name: 'worker', component: 'pipeline', stream: 's-1', partition: 3, msg: 'stepped' });
    expect(JSON.stringify(line)).not.toContain('hunter2');
  });

  it('hides passwords in URLs', () => {
    expect(redactUrl('redis://default:s3cret@cache:6379/0')).toBe('redis://default:***@cache:6379/0');
    expect(redactUrl('not a url')).toBe('not a url');
  });
});

describe('health server', () => {
  it('serves metrics, health and readiness', async () => {
    const metrics = createWorkerMetrics();
    metrics.deadLetters.inc({ code: 'schema' }, 2);
    let ready = false;
    const server = await startHealthServer({ port: 0, host: '127.0.0.1', registry: metrics.registry, probe: { healthy: () => true, ready: () => ready, details: () => ({ state: 'starting' }) } });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(text).toContain('streamcell_dead_letters_total{code="schema"} 2');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const notReady = await fetch(`${base}/readyz`);
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toEqual({ status: 'not ready', state: 'starting' });
      ready = true;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('names every metric streamcell_*', async () => {
    const metrics = createWorkerMetrics({ defaultMetrics: false });
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.length).toBeGreaterThan(15);
    for (const n of names) expect(n).toMatch(/^streamcell_[a-z_]+$/);
  });

  it('names every replayer metric streamcell_replayer_*, process metrics included', async () => {
    const metrics = createReplayerMetrics();
    metrics.eventsSent.inc(3);
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toContain('streamcell_replayer_events_sent_total');
    expect(names).toContain('streamcell_replayer_process_cpu_seconds_total');
    for (const n of names) expect(n).toMatch(/^streamcell_replayer_[a-z0-9_]+$/);
  });

  it('starts the closed-list labelled counters at 0, so that rate() sees their first increment', async () => {
    const metrics = createWorkerMetrics({ defaultMetrics: false, deadLetterCodes: ['schema', 'out_of_order'] });
    const text = await metrics.registry.metrics();
    for (const reason of STATE_RESET_REASONS) expect(text).toContain(`streamcell_state_resets_total{reason="${reason}"} 0`);
    expect(text).toContain('streamcell_dead_letters_total{code="schema"} 0');
    expect(text).toContain('streamcell_dead_letters_total{code="out_of_order"} 0');
    expect(createWorkerMetrics({ defaultMetrics: false }).registry.getSingleMetric('streamcell_dead_letters_total')).toBeDefined();
  });

  it('starts the gateway\'s refusal counter at 0 for each code it is given, and at none otherwise', async () => {
    const text = await createGatewayMetrics({ defaultMetrics: false, refusalCodes: ['schema', 'too_large'] }).registry.metrics();
    expect(text).toContain('streamcell_gateway_events_rejected_total{code="schema"} 0');
    expect(text).toContain('streamcell_gateway_events_rejected_total{code="too_large"} 0');
    expect(await createGatewayMetrics({ defaultMetrics: false }).registry.metrics()).not.toMatch(/^streamcell_gateway_events_rejected_total\{/m);
  });
});
