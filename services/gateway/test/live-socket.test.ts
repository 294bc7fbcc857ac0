/**
 * The live route on a real socket (no Kafka needed: forecasts go straight
 * into the hub): a client that stops reading is dropped once its queue is
 * full, while a client that reads gets every forecast, and nobody waits.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { LiveHub } from '../src/live.ts';
import { appHarness, counter } from './helpers.ts';

let app: FastifyInstance;
let hub: LiveHub;
let metrics: Awaited<ReturnType<typeof appHarness>>['metrics'];
let port: number;

beforeAll(async () => {
  ({ app, hub, metrics } = await appHarness());
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as { port: number }).port;
});

afterAll(async () => {
  hub.close();
  await app.close();
});

interface RawClient {
  readonly socket: Socket;
  /** Forecast events received so far. */
  forecasts(): number;
  readonly closed: Promise<void>;
}

/** Opens the live route on a raw socket; `read` false leaves the bytes unread (a stuck client). */
function subscribe(stream: string, read: boolean): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    let pending = '';
    let forecasts = 0;
    const take = (d: Buffer): void => {
      pending += d.toString();
      const blocks = pending.split('\n\n');
      pending = blocks.pop()!;
      for (const b of blocks) if (b.includes('event: forecast')) forecasts += 1;
    };
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`GET /v1/streams/${stream}/live HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    });
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {});
    socket.once('data', (first: Buffer) => {
      take(first);
      socket.on('data', take);
      if (!read) socket.pause();
      resolve({ socket, forecasts: () => forecasts, closed });
    });
    socket.once('error', reject);
  });
}

describe('live route on a real socket', () => {
  it('drops a client that stopped reading, and keeps feeding one that reads', async () => {
    const stuck = await subscribe('busy', false);
    const reader = await subscribe('busy', true);
    expect(hub.clients).toBe(2);
    // 8 KiB forecasts, 24 MiB in all: far more than the stuck client's socket buffers plus its 16-message queue.
    const pad = 'x'.repeat(8192);
    const total = 3000;
    const seen = (): number => reader.forecasts();
    for (let n = 0; n < total; n++) {
      hub.publish({ stream: 'busy', id: `f/0/${n}`, data: JSON.stringify({ n, pad }), model: 'weather', ts: n });
      // Bursts of 8 (within the queue), each read by the reading client before the next: it keeps up.
      if (n % 8 === 7) while (seen() < n + 1) await new Promise((r) => setImmediate(r));
    }
    expect(await counter(metrics, 'streamcell_gateway_live_clients_dropped_total', { reason: 'slow' })).toBe(1);
    expect(hub.clients).toBe(1);
    expect(seen()).toBe(total);
    // The stuck client's connection was closed under it: once it reads again it finds the end.
    stuck.socket.resume();
    await stuck.closed;
    expect(stuck.forecasts()).toBeLessThan(total);
    reader.socket.destroy();
    await reader.closed;
    await expect.poll(() => hub.clients).toBe(0);
    // Each subscription counts as one request, whether it ended by a drop or by the client.
    expect(await counter(metrics, 'streamcell_gateway_requests_total', { route: '/v1/streams/:id/live', status: '200' })).toBe(2);
    expect(await counter(metrics, 'streamcell_gateway_live_clients')).toBe(0);
  });

  it('counts live streams that open without timing them, and times a refused one like any request', async () => {
    const liveTimings = async (): Promise<number> =>
      (await metrics.requestSeconds.get()).values.find((v) => v.metricName === 'streamcell_gateway_request_seconds_count' && v.labels.route === '/v1/streams/:id/live')?.value ?? 0;
    const before = await counter(metrics, 'streamcell_gateway_requests_total', { route: '/v1/streams/:id/live', status: '200' });
    const client = await subscribe('timed', true);
    client.socket.destroy();
    await client.closed;
    await expect.poll(() => hub.clients).toBe(0);
    expect(await counter(metrics, 'streamcell_gateway_requests_total', { route: '/v1/streams/:id/live', status: '200' })).toBe(before + 1);
    expect(await liveTimings()).toBe(0);
    const refused = await fetch(`http://127.0.0.1:${port}/v1/streams/bad%7Fid/live`);
    expect(refused.status).toBe(400);
    await refused.arrayBuffer();
    expect(await liveTimings()).toBe(1);
  });
});
