/**
 * The HTTP surface with fastify's inject: every malformed request gets a 4xx
 * and a code, nothing is produced for a refused event, and good events of a
 * batch are produced even when others are refused. (The same on the real
 * Kafka topic: gateway.int.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { REFUSAL_CODES } from '../src/ingest.ts';
import { appHarness, counter, weatherEvent } from './helpers.ts';

const TOKEN = 'test-token-0123456789abcdef';
let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function harness(env: Record<string, string> = {}): Promise<Awaited<ReturnType<typeof appHarness>>> {
  const h = await appHarness(env);
  app = h.app;
  return h;
}

function post(a: FastifyInstance, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<LightMyRequestResponse> {
  return a.inject({ method: 'POST', url: '/v1/events', payload: body, headers });
}

describe('POST /v1/events', () => {
  it('produces one event keyed by its stream id to the events topic and answers 202', async () => {
    const h = await harness();
    const event = weatherEvent('sensor-1');
    const res = await post(h.app, JSON.stringify(event));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 1, refused: [] });
    expect(h.sink.messages()).toEqual([{ topic: 'events', key: 'sensor-1', value: event }]);
    expect(await counter(h.metrics, 'streamcell_gateway_events_accepted_total')).toBe(1);
  });

  it('keeps the good events of a batch and refuses each bad one with its code and index', async () => {
    const h = await harness({ MAX_EVENT_BYTES: '1024' });
    const good = [weatherEvent('a', 0), weatherEvent('b', 1), { ...weatherEvent('c', 2), values: [0.1, 10, 5, 2] }];
    const bad: [unknown, string, number][] = [
      [{ ...weatherEvent('x'), values: { precipitation: 1, temp_max: 2, temp_min: 3, wind: 4, sun: 5 } }, 'unknown_feature', 422],
      [{ ...weatherEvent('x'), values: [1, 2, 3] }, 'wrong_dimension', 422],
      [{ ...weatherEvent('x'), values: { precipitation: 1, temp_max: 2, temp_min: 3 } }, 'wrong_dimension', 422],
      [{ ...weatherEvent('x'), model: 'no-such-model' }, 'unknown_model', 422],
      [{ ...weatherEvent('x'), stream: '' }, 'stream_id_invalid', 400],
      [{ ...weatherEvent('x'), stream: 'bad\u0001id' }, 'stream_id_invalid', 400],
      [{ ...weatherEvent('x'), stream: 'é'.repeat(200) }, 'stream_id_invalid', 400],
      [{ values: [1, 2, 3, 4] }, 'stream_id_invalid', 400],
      [{ ...weatherEvent('x'), stream: 42 }, 'schema', 400],
      [{ ...weatherEvent('x'), values: 'warm' }, 'schema', 400],
      [{ ...weatherEvent('x'), values: { precipitation: '1', temp_max: 2, temp_min: 3, wind: 4 } }, 'schema', 400],
      [{ ...weatherEvent('x'), values: { precipitation: null, temp_max: 2, temp_min: 3, wind: 4 } }, 'non_finite', 422],
      [{ ...weatherEvent('x'), ts: 'yesterday' }, 'schema', 400],
      [{ ...weatherEvent('x'), reset: 'yes' }, 'schema', 400],
      [{ ...weatherEvent('x'), note: 'x'.repeat(2000) }, 'too_large', 413],
      ['just a string', 'schema', 400],
      [null, 'schema', 400],
    ];
    // 1e999 has no JSON.stringify form, so that event is spliced in as text.
    const items = [...good.map((e) => JSON.stringify(e)), ...bad.map(([e]) => JSON.stringify(e))];
    items.push('{"stream":"x","values":[1e999,1,1,1]}');
    const res = await post(h.app, `[${items.join(',')}]`);
    expect(res.statusCode).toBe(207);
    const body = res.json<{ accepted: number; refused: { index: number; status: number; code: string }[] }>();
    expect(body.accepted).toBe(3);
    const expected = [...bad.map(([, code, status], i) => ({ index: good.length + i, code, status })), { index: items.length - 1, code: 'non_finite', status: 422 }];
    expect(body.refused.map(({ index, code, status }) => ({ index, code, status }))).toEqual(expected);
    expect(h.sink.messages().map((m) => m.key)).toEqual(['a', 'b', 'c']);
    expect(h.sink.messages().map((m) => m.value)).toEqual(good);
    expect(await counter(h.metrics, 'streamcell_gateway_events_rejected_total', { code: 'wrong_dimension' })).toBe(2);
    // The refusal counter starts these codes at 0 (gateway.ts): every code refused here must be one of them.
    for (const r of body.refused) expect(REFUSAL_CODES).toContain(r.code);
  });

  it('answers a batch with every event refused with a 4xx, the list, and produces nothing', async () => {
    const h = await harness();
    const res = await post(h.app, JSON.stringify([{ ...weatherEvent('x'), model: 'nope' }, { ...weatherEvent('y'), values: [1] }]));
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ code: 'unknown_model', accepted: 0, refused: [{ index: 0, code: 'unknown_model' }, { index: 1, code: 'wrong_dimension' }] });
    expect(h.sink.sent).toEqual([]);
  });

  it('refuses a single bad event with its own status and code', async () => {
    const h = await harness();
    const res = await post(h.app, JSON.stringify({ ...weatherEvent('x'), values: { temp: 1 } }));
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ code: 'unknown_feature' });
    expect(h.sink.sent).toEqual([]);
  });

  it.each([
    ['bad JSON', '{"stream": "a", "values": [1,2', 400, 'malformed_json'],
    ['an empty body', '', 400, 'malformed_json'],
    ['a number', '42', 400, 'schema'],
    ['an empty batch', '[]', 400, 'schema'],
    ['a batch of numbers', '[1,2]', 400, 'schema'],
    ['invalid UTF-8 bytes', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 400, 'malformed_json'],
  ])('refuses %s with %i %s and produces nothing', async (_what, body, status, code) => {
    const h = await harness();
    const res = await post(h.app, body);
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({ code });
    expect(h.sink.sent).toEqual([]);
  });

  it.each([
    ['a deeply nested top-level array', (d: number) => `${'['.repeat(d)}${']'.repeat(d)}`, 400],
    ['a deeply nested values field', (d: number) => `{"stream":"deep","values":${'['.repeat(d)}1${']'.repeat(d)}}`, 400],
    ['a deeply nested object field', (d: number) => `{"stream":"deep","values":[1,2,3,4],"x":${'{"a":'.repeat(d)}1${'}'.repeat(d)}}`, 400],
  ])('refuses %s with 400 schema, never a 5xx', async (_what, make, status) => {
    const h = await harness({ BODY_LIMIT_BYTES: String(4 * 1024 * 1024), MAX_EVENT_BYTES: String(4 * 1024 * 1024) });
    for (const depth of [5_000, 20_000, 200_000]) {
      const res = await post(h.app, make(depth));
      expect(res.statusCode, `depth ${depth}`).toBe(status);
      expect(res.json(), `depth ${depth}`).toMatchObject({ code: 'schema', message: expect.stringContaining('nested too deeply') as unknown });
    }
    expect(h.sink.sent).toEqual([]);
  });

  it('refuses a deeply nested event of a batch by its index and keeps the others', async () => {
    const h = await harness({ BODY_LIMIT_BYTES: String(1024 * 1024) });
    const deep = `{"stream":"deep","values":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const res = await post(h.app, `[${JSON.stringify(weatherEvent('a'))},${deep},${JSON.stringify(weatherEvent('b', 1))}]`);
    expect(res.statusCode).toBe(207);
    expect(res.json()).toMatchObject({ accepted: 2, refused: [{ index: 1, status: 400, code: 'schema' }] });
    expect(h.sink.messages().map((m) => m.key)).toEqual(['a', 'b']);
  });

  it('refuses a body over BODY_LIMIT_BYTES with 413 too_large', async () => {
    const h = await harness({ BODY_LIMIT_BYTES: '2048', MAX_EVENT_BYTES: '1024' });
    const res = await post(h.app, JSON.stringify(Array.from({ length: 40 }, (_, i) => weatherEvent(`s${i}`, i))));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'too_large' });
    expect(h.sink.sent).toEqual([]);
  });

  it('refuses a batch longer than MAX_BATCH_EVENTS with 413 too_large', async () => {
    const h = await harness({ MAX_BATCH_EVENTS: '3' });
    const res = await post(h.app, JSON.stringify([0, 1, 2, 3].map((i) => weatherEvent('s', i))));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'too_large' });
  });

  it('takes the body whatever the content type says', async () => {
    const h = await harness();
    const res = await post(h.app, JSON.stringify(weatherEvent('plain')), { 'content-type': 'text/plain' });
    expect(res.statusCode).toBe(202);
    const none = await h.app.inject({ method: 'POST', url: '/v1/events', payload: JSON.stringify(weatherEvent('none')) });
    expect(none.statusCode).toBe(202);
    expect(h.sink.messages().map((m) => m.key)).toEqual(['plain', 'none']);
  });

  it('routes events without a model field by TOPIC_MODELS and DEFAULT_MODEL as the worker does', async () => {
    const routed = await harness({ TOPIC_MODELS: 'events=other' });
    const res = await post(routed.app, JSON.stringify(weatherEvent('r')));
    expect(res.json()).toMatchObject({ code: 'unknown_model', message: 'model "other" is not loaded' });
    await routed.app.close();
    const named = await harness({ DEFAULT_MODEL: 'missing' });
    expect((await post(named.app, JSON.stringify(weatherEvent('r')))).json()).toMatchObject({ code: 'unknown_model' });
    expect((await post(named.app, JSON.stringify({ ...weatherEvent('r'), model: 'weather' }))).statusCode).toBe(202);
  });

  it('answers 503 kafka_unavailable when the producer fails, and counts nothing as accepted', async () => {
    const h = await harness();
    h.sink.fail = new Error('broker down');
    const res = await post(h.app, JSON.stringify(weatherEvent('k')));
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'kafka_unavailable' });
    expect(await counter(h.metrics, 'streamcell_gateway_events_accepted_total')).toBe(0);
  });

  it('withdraws events still queued when PRODUCE_TIMEOUT_MS passes: 503 overloaded, and they are never written', async () => {
    const h = await harness({ PRODUCE_TIMEOUT_MS: '100' });
    h.sink.hold = true;
    const res = await post(h.app, JSON.stringify(weatherEvent('slow')));
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'overloaded' });
    expect(res.json<{ message: string }>().message).toMatch(/none were written/);
    expect(h.sink.held).toHaveLength(0);
    h.sink.releaseHeld();
    expect(h.sink.sent).toEqual([]);
    expect(await counter(h.metrics, 'streamcell_gateway_events_rejected_total', { code: 'overloaded' })).toBe(1);
  });

  it('says kafka_unavailable, may have been written, when the timeout comes after the events went out', async () => {
    const h = await harness({ PRODUCE_TIMEOUT_MS: '100' });
    h.sink.hold = true;
    h.sink.holdInFlight = true;
    const res = await post(h.app, JSON.stringify(weatherEvent('in-flight')));
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'kafka_unavailable' });
    expect(res.json<{ message: string }>().message).toMatch(/may or may not have been written/);
    h.sink.releaseHeld();
    expect(h.sink.messages().map((m) => m.key)).toEqual(['in-flight']);
  });

  it('refuses at once with 503 overloaded while PRODUCE_MAX_PENDING_BYTES of events wait for Kafka, and takes them again once they drain', async () => {
    const h = await harness({ PRODUCE_TIMEOUT_MS: '60000', PRODUCE_MAX_PENDING_BYTES: '1048576', MAX_BATCH_EVENTS: '5000' });
    h.sink.hold = true;
    // Each request carries about 0.4 MiB of events: two fit in the 1 MiB limit, a third does not.
    const events: Record<string, unknown>[] = [];
    for (let bytes = 0; bytes < 0.4 * 1048576; ) {
      const e = weatherEvent(`s${events.length}`, events.length);
      bytes += Buffer.byteLength(JSON.stringify(e));
      events.push(e);
    }
    const batch = JSON.stringify(events);
    const heldCount = async (n: number): Promise<void> => {
      while (h.sink.held.length < n) await new Promise((r) => setTimeout(r, 5));
    };
    const first = post(h.app, batch);
    await heldCount(1);
    const second = post(h.app, batch);
    await heldCount(2);
    const refused = await post(h.app, batch);
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({ code: 'overloaded' });
    expect(refused.json<{ message: string }>().message).toMatch(/already waiting for Kafka/);
    expect(await counter(h.metrics, 'streamcell_gateway_events_rejected_total', { code: 'overloaded' })).toBe(events.length);
    h.sink.releaseHeld();
    expect((await first).statusCode).toBe(202);
    expect((await second).statusCode).toBe(202);
    expect(h.sink.messages()).toHaveLength(2 * events.length);
    // Drained: the same request is taken again.
    h.sink.hold = false;
    expect((await post(h.app, batch)).statusCode).toBe(202);
  });
});

describe('bearer token', () => {
  it('refuses /v1/ requests without the configured token, and with a wrong one, with 401 unauthorized', async () => {
    const h = await harness({ GATEWAY_TOKEN: TOKEN });
    const body = JSON.stringify(weatherEvent('t'));
    for (const headers of [{}, { authorization: `Bearer ${TOKEN}x` }, { authorization: TOKEN }, { authorization: 'Bearer ' }, { authorization: `Basic ${TOKEN}` }]) {
      const res = await post(h.app, body, headers);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ code: 'unauthorized' });
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    for (const url of ['/v1/models', '/v1/streams', '/v1/streams/t/forecast', '/v1/streams/t/live']) {
      const res = await h.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(401);
    }
    expect(h.sink.sent).toEqual([]);
    const ok = await post(h.app, body, { authorization: `Bearer ${TOKEN}` });
    expect(ok.statusCode).toBe(202);
    expect(h.sink.messages().map((m) => m.key)).toEqual(['t']);
  });

  it('refuses percent-encoded /v1/ paths that reach the same routes without the token', async () => {
    const h = await harness({ GATEWAY_TOKEN: TOKEN });
    h.hub.publish({ stream: 'secret-stream', id: 'f/0/0', data: '{}', model: 'weather', ts: 1000 });
    const gets = ['/%76%31/models', '/v%31/streams', '/%761/streams', '/%76%31/streams/t/forecast', '/v%31/streams/t/live', '/%2576%31/models'];
    for (const url of gets) {
      const res = await h.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).not.toBe(200);
      if (res.statusCode !== 404) {
        expect(res.statusCode, url).toBe(401);
        expect(res.json(), url).toMatchObject({ code: 'unauthorized' });
      }
      expect(res.body, url).not.toContain('secret-stream');
    }
    for (const url of ['/%76%31/models', '/v%31/streams', '/%761/streams/t/forecast']) {
      expect((await h.app.inject({ method: 'GET', url })).statusCode, url).toBe(401);
      expect((await h.app.inject({ method: 'HEAD', url })).statusCode, `HEAD ${url}`).toBe(401);
    }
    const body = JSON.stringify(weatherEvent('t'));
    for (const url of ['/%761/events', '/%76%31/events', '/v%31/events', '/v1%2Fevents']) {
      const res = await h.app.inject({ method: 'POST', url, payload: body });
      expect([401, 404], url).toContain(res.statusCode);
    }
    expect((await h.app.inject({ method: 'POST', url: '/%761/events', payload: body })).statusCode).toBe(401);
    expect(h.sink.sent).toEqual([]);
    // With the token, the encoded forms are the same routes.
    const ok = await h.app.inject({ method: 'POST', url: '/%761/events', payload: body, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.statusCode).toBe(202);
    // Unknown routes stay 404, with or without the token, and answer nothing else.
    for (const url of ['/v1/nothing', '/%76%31/nothing', '/v2/models']) {
      const res = await h.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json()).toMatchObject({ code: 'not_found' });
    }
  });

  it('takes the auth scheme in any case (RFC 7235)', async () => {
    const h = await harness({ GATEWAY_TOKEN: TOKEN });
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const res = await h.app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: `${scheme} ${TOKEN}` } });
      expect(res.statusCode, scheme).toBe(200);
    }
    for (const header of [`bearer ${TOKEN.toUpperCase()}`, `bearer${TOKEN}`, `Bearer: ${TOKEN}`]) {
      expect((await h.app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: header } })).statusCode, header).toBe(401);
    }
  });

  it('leaves the page, health, metrics and the OpenAPI document open', async () => {
    const h = await harness({ GATEWAY_TOKEN: TOKEN });
    for (const url of ['/', '/explorer.js', '/explorer.css', '/healthz', '/readyz', '/metrics', '/openapi.json']) {
      expect((await h.app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
  });
});

describe('stream ids in URLs and other routes', () => {
  it.each(['/v1/streams/bad%01id/forecast', `/v1/streams/${'a'.repeat(300)}/forecast`, '/v1/streams/bad%7Fid/live'])('refuses %s with 400 stream_id_invalid', async (url) => {
    const h = await harness();
    const res = await h.app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'stream_id_invalid' });
  });

  it('answers 404 not_found for a stream without state, and for unknown routes and methods', async () => {
    const h = await harness();
    const res = await h.app.inject({ method: 'GET', url: '/v1/streams/nobody/forecast' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'not_found' });
    for (const [method, url] of [['GET', '/v2/events'], ['DELETE', '/v1/events'], ['PUT', '/v1/models'], ['GET', '/v1/events'], ['HEAD', '/v1/streams/x/live']] as const) {
      const r = await h.app.inject({ method, url });
      expect(r.statusCode, `${method} ${url}`).toBe(404);
      if (method !== 'HEAD') expect(r.json()).toMatchObject({ code: 'not_found' });
    }
  });

  it('refuses bad query parameters with 400 schema', async () => {
    const h = await harness();
    for (const url of ['/v1/streams?limit=0', '/v1/streams?limit=abc', '/v1/streams?limit=5000', '/v1/streams?q=a&q=b', '/v1/streams/x/forecast?model=a&model=b']) {
      const res = await h.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(400);
      expect(res.json()).toMatchObject({ code: 'schema' });
    }
  });

  it('lists the models events are checked against', async () => {
    const h = await harness();
    const res = await h.app.inject({ method: 'GET', url: '/v1/models' });
    expect(res.json()).toEqual({
      models: [
        {
          name: 'weather',
          version: '1',
          cell: 'lstm',
          features: ['precipitation', 'temp_max', 'temp_min', 'wind'],
          targets: ['temp_max', 'temp_min'],
          horizon: 3,
          hiddenSize: 32,
          numLayers: 1,
          targetMode: 'delta',
        },
      ],
    });
  });

  it('lists streams the live feed saw, most recent first, filtered by q', async () => {
    const h = await harness();
    for (const [i, stream] of ['alpha-1', 'beta-1', 'alpha-2'].entries()) {
      h.hub.publish({ stream, id: `f/0/${i}`, data: '{}', model: 'weather', ts: 1000 + i });
    }
    const all = await h.app.inject({ method: 'GET', url: '/v1/streams' });
    expect(all.json<{ streams: { stream: string }[] }>().streams.map((s) => s.stream)).toEqual(['alpha-2', 'beta-1', 'alpha-1']);
    const some = await h.app.inject({ method: 'GET', url: '/v1/streams?q=ALPHA&limit=1' });
    expect(some.json<{ streams: { stream: string }[] }>().streams.map((s) => s.stream)).toEqual(['alpha-2']);
  });

  it('counts requests by route pattern, never by stream id', async () => {
    const h = await harness();
    await h.app.inject({ method: 'GET', url: '/v1/streams/secret-stream-id/forecast' });
    const text = await h.metrics.registry.metrics();
    expect(text).toContain('streamcell_gateway_requests_total{method="GET",route="/v1/streams/:id/forecast",status="404"} 1');
    expect(text).not.toContain('secret-stream-id');
  });
});
