import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** What the health server asks the process. */
export interface HealthProbe {
  /** Alive: the process works (a failed worker answers 503 so it gets restarted). */
  healthy(): boolean;
  /** Ready: it is consuming and can take traffic. */
  ready(): boolean;
  /** Extra fields for the JSON body, such as the lifecycle state. */
  details?(): Record<string, unknown>;
}

/** A running health server. */
export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `/metrics` (Prometheus text format), `/healthz` and `/readyz` on one
 * port. Three fixed routes need no framework; anything else is a 404.
 */
export async function startHealthServer(options: { port: number; host?: string; registry: Registry; probe: HealthProbe }): Promise<HealthServer> {
  const { registry, probe } = options;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: Record<string, unknown>): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(405, { error: 'method not allowed' });
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (err: unknown) => json(500, { error: String(err) }),
      );
    } else if (path === '/healthz') {
      const ok = probe.healthy();
      json(ok ? 200 : 503, { status: ok ? 'ok' : 'failing', ...probe.details?.() });
    } else if (path === '/readyz') {
      const ok = probe.ready();
      json(ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', ...probe.details?.() });
    } else {
      json(404, { error: 'not found', routes: ['/metrics', '/healthz', '/readyz'] });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
