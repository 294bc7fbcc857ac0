/**
 * The hand-written OpenAPI document against the app: it is valid OpenAPI
 * 3.1, it lists exactly the routes the app registers, and the app's real
 * answers match the schemas it documents for them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance } from 'fastify';
import { encodeRecord, modelVersionHash, scoringLayout, stateKey } from '@streamcell/state';
import { openApiDocument } from '../src/openapi.ts';
import { appHarness, weatherEvent, type MapStateReader } from './helpers.ts';

const doc = openApiDocument();

describe('OpenAPI document', () => {
  let app: FastifyInstance;
  let state: MapStateReader;
  const routes: string[] = [];

  beforeAll(async () => {
    ({ app, state } = await appHarness({}, (method, url) => {
      // fastify adds HEAD for every GET by itself; the document describes the GETs.
      if (method !== 'HEAD') routes.push(`${method} ${url}`);
    }));
  });
  afterAll(async () => {
    await app.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('lists exactly the routes the app serves', () => {
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    expect([...routes].sort()).toEqual(documented.sort());
  });

  it('describes the answers the app gives', async () => {
    // A saved state for the forecast route: the weather model, 3 steps of 2 targets.
    const layout = scoringLayout(3, 2);
    const scoring = new Float32Array(layout.size).map((_, i) => i + 0.5);
    state.records.set(
      stateKey('streamcell:', 'weather', 'st-1'),
      encodeRecord({ modelHash: modelVersionHash('weather', '1'), topicHash: 1, partition: 2, offset: 41, lastEventTs: 1_700_000_000_000, steps: 7, state: new Float32Array(64), scoring, historyKnown: 3 }),
    );
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema(doc, 'openapi');
    const cases: [{ method: 'GET' | 'POST'; url: string; payload?: string }, number][] = [
      [{ method: 'POST', url: '/v1/events', payload: JSON.stringify(weatherEvent('a')) }, 202],
      [{ method: 'POST', url: '/v1/events', payload: JSON.stringify([weatherEvent('a'), { stream: 'b', values: [1] }]) }, 207],
      [{ method: 'POST', url: '/v1/events', payload: JSON.stringify([{ stream: 'b', values: [1] }]) }, 422],
      [{ method: 'POST', url: '/v1/events', payload: '{' }, 400],
      [{ method: 'POST', url: '/v1/events', payload: JSON.stringify({ ...weatherEvent('a'), pad: 'x'.repeat(70_000) }) }, 413],
      [{ method: 'GET', url: '/v1/models' }, 200],
      [{ method: 'GET', url: '/v1/streams' }, 200],
      [{ method: 'GET', url: '/v1/streams/st-1/forecast' }, 200],
      [{ method: 'GET', url: '/v1/streams/nobody/forecast' }, 404],
      [{ method: 'GET', url: '/v1/streams/a%01/forecast' }, 400],
      [{ method: 'GET', url: '/healthz' }, 200],
      [{ method: 'GET', url: '/readyz' }, 200],
    ];
    for (const [request, status] of cases) {
      const res = await app.inject(request);
      expect(res.statusCode, `${request.method} ${request.url}`).toBe(status);
      const template = request.url.split('?')[0]!.replace(/^\/v1\/streams\/[^/]+\//, '/v1/streams/{id}/');
      const pointer = ['paths', template, request.method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema']
        .map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1'))
        .join('/');
      const validate = ajv.compile({ $ref: `openapi#/${pointer}` });
      const ok = validate(res.json());
      expect(validate.errors ?? [], `${request.method} ${request.url} -> ${res.body.slice(0, 200)}`).toEqual([]);
      expect(ok).toBe(true);
    }
    // The forecast came out of the record's scoring history: block 0 and the newest actuals.
    const latest = (await app.inject({ method: 'GET', url: '/v1/streams/st-1/forecast' })).json<Record<string, unknown>>();
    expect(latest).toMatchObject({
      stream: 'st-1',
      model: { name: 'weather', version: '1' },
      ts: 1_700_000_000_000,
      steps: 7,
      forecast: [
        { temp_max: 0.5, temp_min: 1.5 },
        { temp_max: 2.5, temp_min: 3.5 },
        { temp_max: 4.5, temp_min: 5.5 },
      ],
      actual: { temp_max: layout.actualsStart + 0.5, temp_min: layout.actualsStart + 1.5 },
      source: { partition: 2, offset: 41 },
      savedAgoMs: null,
    });
  });
});
