/**
 * The gateway's HTTP surface (fastify), wired to interfaces only: a Sink to
 * produce to, a StateReader for the latest forecasts, the LiveHub for the
 * live feed and a model snapshot. gateway.ts plugs in Kafka and Redis; the
 * request-validation tests plug in an in-memory sink.
 *
 * Every refusal is a 4xx with `{"code", "message"}`, the code from the one
 * list in @streamcell/protocol; only the infrastructure failing (Kafka or
 * Redis not answering) gives a 503, and nothing else escapes as a 5xx.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { checkStreamId, isStreamcellError, type ErrorCode } from '@streamcell/protocol';
import { SendWithdrawnError, type Sink } from '@streamcell/streams';
import type { GatewayMetrics, Logger } from '@streamcell/telemetry';
import { settleWithin, type Settled } from './deadline.ts';
import type { GatewayConfig } from './config.ts';
import { checkEvents, statusOf, type RefusedEvent } from './ingest.ts';
import { latestForecast, type StateReader } from './latest.ts';
import type { LiveHub } from './live.ts';
import type { GatewayModels } from './models.ts';
import { openApiDocument } from './openapi.ts';

/** What the HTTP layer is wired to. */
export interface AppDeps {
  readonly config: Pick<
    GatewayConfig,
    | 'eventsTopic'
    | 'topicModels'
    | 'defaultModel'
    | 'maxEventBytes'
    | 'bodyLimitBytes'
    | 'maxBatchEvents'
    | 'produceTimeoutMs'
    | 'producePendingBytes'
    | 'token'
    | 'stateKeyPrefix'
    | 'stateTtlMs'
  >;
  readonly models: () => GatewayModels;
  readonly sink: Sink;
  readonly state: StateReader;
  readonly hub: LiveHub;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  /** Alive (503 turns the orchestrator's restart on). */
  readonly healthy: () => boolean;
  /** Ready for traffic: producer connected, live feed joined. */
  readonly ready: () => boolean;
  /** Extra fields for /healthz and /readyz. */
  readonly details?: () => Record<string, unknown>;
  /** Told of every route as it is registered (the OpenAPI test compares them with the document). */
  readonly onRoute?: (method: string, url: string) => void;
}

/** The static files of the explorer page, served from memory. */
const PUBLIC_DIR = fileURLToPath(new URL('../public', import.meta.url));
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The live route: its requests are counted when the stream starts (see the onResponse hook). */
const LIVE_ROUTE = '/v1/streams/:id/live';

/** A refusal as the API answers it. */
export class HttpRefusal extends Error {
  readonly status: number;
  readonly code: ErrorCode;

  constructor(status: number, code: ErrorCode, message: string) {
    super(message);
    this.name = 'HttpRefusal';
    this.status = status;
    this.code = code;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Compares a presented token with the configured one in constant time (over their hashes). */
export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(sha256(presented), sha256(expected));
}

function streamParam(request: FastifyRequest): string {
  const id = (request.params as { id?: unknown }).id;
  if (typeof id !== 'string') throw new HttpRefusal(400, 'stream_id_invalid', 'the URL has no stream id');
  const bad = checkStreamId(id);
  if (bad) throw new HttpRefusal(400, bad.code, bad.message);
  return id;
}

function queryString(request: FastifyRequest, name: string): string | undefined {
  const v = (request.query as Record<string, unknown> | undefined)?.[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new HttpRefusal(400, 'schema', `query parameter ${name} must be given once`);
  return v;
}

function queryInt(request: FastifyRequest, name: string, min: number, max: number, fallback: number): number {
  const v = queryString(request, name);
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new HttpRefusal(400, 'schema', `query parameter ${name} must be a whole number from ${min} to ${max}`);
  return Number(v);
}

/** Maps errors to answers: our refusals and fastify's 4xx as codes; infrastructure as 503; the rest 500. */
function toAnswer(err: unknown): { status: number; code: ErrorCode; message: string } {
  if (err instanceof HttpRefusal) return { status: err.status, code: err.code, message: err.message };
  if (isStreamcellError(err)) {
    if (err.code === 'kafka_unavailable' || err.code === 'redis_unavailable' || err.code === 'overloaded') return { status: 503, code: err.code, message: err.message };
    return { status: statusOf(err.code), code: err.code, message: err.message };
  }
  const fe = err as Partial<FastifyError>;
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code: ErrorCode = fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'too_large' : status === 404 ? 'not_found' : 'bad_request';
    return { status, code, message: fe.message ?? 'bad request' };
  }
  return { status: 500, code: 'internal', message: 'internal error' };
}

/** Whether a matched route pattern is part of the API, which the bearer token guards. */
function isApiRoute(pattern: string | undefined): boolean {
  return pattern !== undefined && pattern.startsWith('/v1/');
}

/** Builds the fastify app (not listening). */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, metrics, hub } = deps;
  const log: FastifyBaseLogger = deps.log.child({ component: 'http' });
  const app = Fastify({
    loggerInstance: log,
    // One line per request at high rates is noise; failures are logged below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // Stream ids may be 256 UTF-8 bytes, percent-encoded up to three times longer.
    routerOptions: { maxParamLength: 1024 },
    return503OnClosing: true,
    // A URL that is not valid percent-encoding fails in the router, before any
    // route or error handler: answer it in the same shape as every refusal.
    frameworkErrors: (err, _request, reply) => {
      const a = toAnswer(err);
      void (reply as FastifyReply).code(a.status).send({ code: a.code, message: a.message });
    },
  });

  if (deps.onRoute) {
    const observe = deps.onRoute;
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) observe(method, route.url);
    });
  }

  // The body is taken as bytes, whatever the content type, and parsed here,
  // so that bad JSON gets the worker's code (malformed_json), not fastify's.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const statics = new Map<string, { type: string; body: Buffer }>();
  for (const file of readdirSync(PUBLIC_DIR)) {
    const type = CONTENT_TYPES[extname(file)];
    if (type !== undefined) statics.set(file, { type, body: readFileSync(join(PUBLIC_DIR, file)) });
  }
  const openapi = JSON.stringify(openApiDocument());

  // The token guards the API by the route the request matched, never by the raw
  // URL: the router decodes percent-encoding, so `/%76%31/models` is /v1/models.
  // A request that matched no route (routeOptions.url undefined) gets its 404.
  app.addHook('onRequest', (request, _reply, done) => {
    if (config.token === undefined || !isApiRoute(request.routeOptions.url)) return done();
    const header = request.headers.authorization;
    if (header === undefined) return done(new HttpRefusal(401, 'unauthorized', 'this gateway needs Authorization: Bearer <token>'));
    // The auth scheme is case-insensitive (RFC 7235); the token is not.
    const m = /^bearer ([\x21-\x7e]+)$/i.exec(header);
    if (!m || !tokenMatches(m[1]!, config.token)) return done(new HttpRefusal(401, 'unauthorized', 'the bearer token is not valid'));
    done();
  });

  // Live responses are counted when they start; their end (if it comes) is not a request finishing.
  const liveRequests = new WeakSet<FastifyRequest>();
  app.addHook('onResponse', (request, reply, done) => {
    if (liveRequests.has(request)) return done();
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    done();
  });

  app.setErrorHandler((err, request, reply) => {
    const a = toAnswer(err);
    if (a.status >= 500) request.log.error({ err, route: request.routeOptions.url, code: a.code }, 'request failed');
    if (a.status === 401) void reply.header('www-authenticate', 'Bearer');
    return reply.code(a.status).send({ code: a.code, message: a.message });
  });

  app.setNotFoundHandler((request, reply) => reply.code(404).send({ code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}` }));

  // --- the page and documents -------------------------------------------
  const sendStatic = (name: string) => (_request: FastifyRequest, reply: FastifyReply) => {
    const f = statics.get(name);
    if (!f) throw new HttpRefusal(404, 'not_found', `${name} is missing from the gateway's files`);
    return reply.header('cache-control', 'no-cache').type(f.type).send(f.body);
  };
  app.get('/', sendStatic('index.html'));
  app.get('/explorer.js', sendStatic('explorer.js'));
  app.get('/explorer.css', sendStatic('explorer.css'));
  app.get('/openapi.json', (_request, reply) => reply.type('application/json').send(openapi));

  // --- operations -----------------------------------------------------------
  app.get('/healthz', (_request, reply) => {
    const ok = deps.healthy();
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'failing', ...deps.details?.() });
  });
  app.get('/readyz', (_request, reply) => {
    const ok = deps.ready();
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', ...deps.details?.() });
  });
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  // --- the API ----------------------------------------------------------------

  /**
   * Event bytes handed to the sink and not yet acknowledged or failed,
   * including those of requests that were already answered 503 (their send
   * goes on). Bounded by PRODUCE_MAX_PENDING_BYTES, so that a Kafka outage
   * cannot pile up requests without end and write them all, long after their
   * clients were told 503 and retried, once it ends.
   */
  let pendingBytes = 0;

  /**
   * Produces a request's accepted events, or refuses them with 503: code
   * `overloaded` when none of them was written (over the pending limit, or
   * still queued in the gateway when the timeout came and withdrawn), code
   * `kafka_unavailable` when Kafka failed or did not answer in time after
   * they went out, so they may have been written.
   */
  const produce = async (accepted: readonly { stream: string; value: Buffer }[]): Promise<void> => {
    const bytes = accepted.reduce((n, e) => n + e.value.length, 0);
    if (pendingBytes + bytes > config.producePendingBytes) {
      metrics.eventsRejected.inc({ code: 'overloaded' }, accepted.length);
      throw new HttpRefusal(503, 'overloaded', `${pendingBytes} bytes of events are already waiting for Kafka on this gateway (limit ${config.producePendingBytes}); none of these events were written; retry later`);
    }
    pendingBytes += bytes;
    const t0 = performance.now();
    const abort = new AbortController();
    const sending = deps.sink.send([{ topic: config.eventsTopic, messages: accepted.map((e) => ({ key: e.stream, value: e.value })) }], { signal: abort.signal });
    const release = (): void => {
      pendingBytes -= bytes;
    };
    sending.then(release, release);
    let settled: Settled<void>;
    try {
      settled = await settleWithin(sending, config.produceTimeoutMs);
    } catch (err) {
      if (err instanceof HttpRefusal || isStreamcellError(err)) throw err;
      throw new HttpRefusal(503, 'kafka_unavailable', `Kafka refused the events: ${(err as Error).message}`);
    }
    if (!settled.done) {
      // Withdraw them if they are still queued here; a withdrawal settles the send at once.
      abort.abort();
      const after = await settleWithin(
        sending.then(
          () => 'written' as const,
          (err: unknown) => (err instanceof SendWithdrawnError ? ('withdrawn' as const) : ('failed' as const)),
        ),
        0,
      );
      if (after.done && after.value === 'withdrawn') {
        metrics.eventsRejected.inc({ code: 'overloaded' }, accepted.length);
        throw new HttpRefusal(503, 'overloaded', `Kafka did not take the events within ${config.produceTimeoutMs} ms and they were withdrawn before being sent: none were written; retry later`);
      }
      if (!after.done || after.value === 'failed') {
        throw new HttpRefusal(503, 'kafka_unavailable', `Kafka did not acknowledge the events within ${config.produceTimeoutMs} ms; they may or may not have been written`);
      }
    }
    metrics.produceSeconds.observe((performance.now() - t0) / 1000);
  };

  app.post('/v1/events', async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const snapshot = deps.models();
    const checked = checkEvents(body, config, snapshot);
    if ('request' in checked) {
      metrics.eventsRejected.inc({ code: checked.request.code });
      throw new HttpRefusal(checked.request.status, checked.request.code, checked.request.message);
    }
    const { accepted, refused, batch } = checked;
    for (const r of refused) metrics.eventsRejected.inc({ code: r.code });
    if (accepted.length > 0) {
      await produce(accepted);
      metrics.eventsAccepted.inc(accepted.length);
    }
    const describe = (r: RefusedEvent): Record<string, unknown> => ({ index: r.index, status: r.status, code: r.code, message: r.message });
    if (!batch) {
      const r = refused[0];
      if (r) return reply.code(r.status).send({ code: r.code, message: r.message });
      return reply.code(202).send({ accepted: 1, refused: [] });
    }
    if (refused.length === 0) return reply.code(202).send({ accepted: accepted.length, refused: [] });
    if (accepted.length === 0) {
      const first = refused[0]!;
      const same = refused.every((r) => r.status === first.status);
      return reply.code(same ? first.status : 400).send({ code: first.code, message: `all ${refused.length} events were refused; the first: ${first.message}`, accepted: 0, refused: refused.map(describe) });
    }
    // Some in, some out: the good ones were produced; the client needs the list to fix the rest.
    return reply.code(207).send({ accepted: accepted.length, refused: refused.map(describe) });
  });

  app.get('/v1/models', (_request, reply) =>
    reply.send({
      models: [...deps.models().values()].map((m) => ({
        name: m.name,
        version: m.version,
        cell: m.manifest.cell,
        features: m.manifest.features,
        targets: m.manifest.targets,
        horizon: m.manifest.horizon,
        hiddenSize: m.manifest.hiddenSize,
        numLayers: m.manifest.numLayers,
        targetMode: m.manifest.targetMode ?? 'level',
      })),
    }),
  );

  app.get('/v1/streams', (request, reply) => {
    const limit = queryInt(request, 'limit', 1, 1000, 50);
    const q = queryString(request, 'q');
    return reply.send({ streams: hub.recent(limit, q) });
  });

  app.get('/v1/streams/:id/forecast', async (request, reply) => {
    const stream = streamParam(request);
    const modelName = queryString(request, 'model');
    const result = await latestForecast(deps.state, stream, deps.models(), { keyPrefix: config.stateKeyPrefix, stateTtlMs: config.stateTtlMs, modelName }).catch((err: unknown) => {
      if (isStreamcellError(err)) throw err;
      throw new HttpRefusal(503, 'redis_unavailable', `Redis did not answer: ${(err as Error).message}`);
    });
    if ('reason' in result) throw new HttpRefusal(404, 'not_found', result.reason);
    return reply.send(result);
  });

  // No HEAD twin: a HEAD request would hold a subscription open with nothing to read it.
  app.get(LIVE_ROUTE, { exposeHeadRoute: false }, (request, reply) => {
    const stream = streamParam(request);
    const lastId = request.headers['last-event-id'];
    if (hub.full) throw new HttpRefusal(503, 'overloaded', 'too many live subscribers on this gateway; retry later');
    const res = reply.raw;
    // The response is ours from here: fastify does not end it, the hub writes to it.
    reply.hijack();
    liveRequests.add(request);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and similar proxies buffer responses unless told not to.
      'x-accel-buffering': 'no',
    });
    const sub = hub.subscribe(stream, res, typeof lastId === 'string' ? lastId : undefined);
    metrics.requests.inc({ method: 'GET', route: LIVE_ROUTE, status: '200' });
    // The response closes when the client goes away (or the hub ended it): unsubscribe either way.
    res.on('close', () => sub.close());
  });

  return app;
}
