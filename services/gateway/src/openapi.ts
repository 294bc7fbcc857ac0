/**
 * The gateway's OpenAPI 3.1 document, served at /openapi.json. Written by
 * hand, because the routes validate with the protocol package's decoder
 * rather than with JSON schemas; test/openapi.test.ts keeps it honest: it is
 * a valid OpenAPI document, it lists exactly the routes the app registers,
 * and real answers of the app match the schemas it gives.
 */
import { DEAD_LETTER_CODES, ERROR_CODES } from '@streamcell/protocol';

const json = (schema: Record<string, unknown>, description: string): Record<string, unknown> => ({
  description,
  content: { 'application/json': { schema } },
});
const ref = (name: string): Record<string, string> => ({ $ref: `#/components/schemas/${name}` });
const error = (description: string): Record<string, unknown> => json(ref('Error'), description);

const streamId = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'Stream id: 1 to 256 UTF-8 bytes, no control characters (percent-encode it in the URL).',
  schema: { type: 'string', minLength: 1 },
};

/** The document. */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'streamcell gateway',
      version: '0.1.0',
      description:
        'HTTP ingest of time-series events into Kafka (checked with the worker\'s rules), the latest forecast of a stream from Redis, live forecasts as server-sent events, and the models served. When GATEWAY_TOKEN is set every /v1/ route needs `Authorization: Bearer <token>`.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: { type: 'string', enum: [...ERROR_CODES] },
            message: { type: 'string' },
          },
        },
        Event: {
          type: 'object',
          description: 'One event, as on the events topic. Unknown top-level fields are kept and ignored.',
          required: ['stream', 'values'],
          properties: {
            stream: { type: 'string', minLength: 1 },
            ts: { oneOf: [{ type: 'number', minimum: 0, description: 'epoch milliseconds' }, { type: 'string', description: 'ISO-8601' }] },
            values: {
              oneOf: [
                { type: 'array', items: { type: 'number' }, description: "in the model's feature order" },
                { type: 'object', additionalProperties: { type: 'number' }, description: 'by feature name' },
              ],
            },
            model: { type: 'string', minLength: 1 },
            reset: { type: 'boolean' },
            end: { type: 'boolean' },
          },
        },
        Refused: {
          type: 'object',
          required: ['index', 'status', 'code', 'message'],
          properties: {
            index: { type: 'integer', minimum: 0, description: 'position in the batch' },
            status: { type: 'integer', minimum: 400, maximum: 499 },
            code: { type: 'string', enum: [...DEAD_LETTER_CODES] },
            message: { type: 'string' },
          },
        },
        IngestResult: {
          type: 'object',
          required: ['accepted', 'refused'],
          properties: {
            accepted: { type: 'integer', minimum: 0, description: 'events produced to Kafka (acknowledged)' },
            refused: { type: 'array', items: ref('Refused') },
          },
        },
        BatchRefused: {
          type: 'object',
          required: ['code', 'message', 'accepted', 'refused'],
          properties: {
            code: { type: 'string', enum: [...DEAD_LETTER_CODES] },
            message: { type: 'string' },
            accepted: { const: 0 },
            refused: { type: 'array', items: ref('Refused') },
          },
        },
        Model: {
          type: 'object',
          required: ['name', 'version', 'cell', 'features', 'targets', 'horizon', 'hiddenSize', 'numLayers', 'targetMode'],
          properties: {
            name: { type: 'string' },
            version: { type: 'string' },
            cell: { type: 'string', enum: ['lstm', 'gru', 'rnn_tanh', 'rnn_relu'] },
            features: { type: 'array', items: { type: 'string' } },
            targets: { type: 'array', items: { type: 'string' } },
            horizon: { type: 'integer', minimum: 1 },
            hiddenSize: { type: 'integer', minimum: 1 },
            numLayers: { type: 'integer', minimum: 1 },
            targetMode: { type: 'string', enum: ['level', 'delta'] },
          },
        },
        RecentStream: {
          type: 'object',
          required: ['stream', 'model', 'ts', 'receivedAt', 'forecasts'],
          properties: {
            stream: { type: 'string' },
            model: { type: 'string' },
            ts: { type: 'number', description: 'event time of its last forecast, epoch ms' },
            receivedAt: { type: 'number', description: 'when the gateway read that forecast, epoch ms' },
            forecasts: { type: 'integer', minimum: 1 },
          },
        },
        LatestForecast: {
          type: 'object',
          required: ['stream', 'model', 'ts', 'steps', 'forecast', 'actual', 'source', 'eventAgeMs', 'savedAgoMs'],
          properties: {
            stream: { type: 'string' },
            model: { type: 'object', required: ['name', 'version'], properties: { name: { type: 'string' }, version: { type: 'string' } } },
            ts: { type: 'number', description: "event time of the stream's last applied event, epoch ms" },
            steps: { type: 'number', description: 'events stepped since the state (re)started' },
            forecast: {
              type: 'array',
              description: 'forecast[k] is k+1 steps ahead, by target name (the stored float32 values, written as the forecast messages write them: the shortest decimal that reads back to the float32)',
              items: { type: 'object', additionalProperties: { type: 'number' } },
            },
            actual: { type: 'object', additionalProperties: { type: 'number' }, description: "the last event's actual target values (stored as float32, written like the forecasts)" },
            source: {
              type: 'object',
              required: ['partition', 'offset'],
              properties: { partition: { type: 'integer' }, offset: { type: 'number' } },
            },
            eventAgeMs: { type: 'number', minimum: 0 },
            savedAgoMs: { type: ['number', 'null'], minimum: 0, description: 'time since the worker saved the state, from the key TTL' },
          },
        },
        Health: {
          type: 'object',
          required: ['status'],
          properties: { status: { type: 'string' } },
        },
      },
    },
    paths: {
      '/v1/events': {
        post: {
          summary: 'Send one event or a batch',
          description:
            "Each event is checked with the worker's rules (decoding, stream id, model routing, features, finiteness) and the good ones are produced to the events topic keyed by stream id (Kafka's murmur2 partitioner), acknowledged by all in-sync replicas before the answer. Nothing is produced for a refused event. `out_of_order` depends on the stream's state and is decided by the worker (a dead letter).",
          security: [{ bearer: [] }],
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { oneOf: [ref('Event'), { type: 'array', items: ref('Event'), minItems: 1 }] } },
            },
          },
          responses: {
            '202': json(ref('IngestResult'), 'every event accepted'),
            '207': json(ref('IngestResult'), 'a batch partly accepted: the accepted ones were produced, `refused` lists the others'),
            '400': json({ anyOf: [ref('BatchRefused'), ref('Error')] }, 'malformed JSON, wrong types, bad stream id, an empty batch'),
            '401': error('missing or wrong bearer token'),
            '413': json({ anyOf: [ref('BatchRefused'), ref('Error')] }, 'the body, an event or the batch is too large'),
            '422': json({ anyOf: [ref('BatchRefused'), ref('Error')] }, 'unknown model, wrong dimension, unknown feature, a value that is not finite'),
            '503': error('overloaded: none of the events were written (too much waiting for Kafka, or withdrawn at the timeout); kafka_unavailable: Kafka failed or did not acknowledge in time, they may have been written'),
          },
        },
      },
      '/v1/models': {
        get: {
          summary: 'The models events are checked against (newest good version of each)',
          security: [{ bearer: [] }],
          responses: {
            '200': json({ type: 'object', required: ['models'], properties: { models: { type: 'array', items: ref('Model') } } }, 'the models'),
            '401': error('missing or wrong bearer token'),
          },
        },
      },
      '/v1/streams': {
        get: {
          summary: 'Streams seen lately on the forecast topic, most recent first',
          security: [{ bearer: [] }],
          parameters: [
            { name: 'q', in: 'query', required: false, description: 'keep ids containing this (case-insensitive)', schema: { type: 'string' } },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } },
          ],
          responses: {
            '200': json({ type: 'object', required: ['streams'], properties: { streams: { type: 'array', items: ref('RecentStream') } } }, 'the streams'),
            '400': error('bad query parameter'),
            '401': error('missing or wrong bearer token'),
          },
        },
      },
      '/v1/streams/{id}/forecast': {
        get: {
          summary: "The stream's latest forecast, from its state in Redis",
          security: [{ bearer: [] }],
          parameters: [streamId, { name: 'model', in: 'query', required: false, description: 'look under this model only (default: every model, newest state wins)', schema: { type: 'string' } }],
          responses: {
            '200': json(ref('LatestForecast'), 'the latest forecast'),
            '400': error('bad stream id'),
            '401': error('missing or wrong bearer token'),
            '404': error('no state for the stream'),
            '503': error('Redis did not answer'),
          },
        },
      },
      '/v1/streams/{id}/live': {
        get: {
          summary: "The stream's forecasts as server-sent events",
          description:
            'First an `event: ready`, then the forecasts the gateway remembers for the stream (after `Last-Event-ID` when given), then every new one as `event: forecast` with `id:` the idempotency key and `data:` the forecast message JSON. A client that falls `LIVE_CLIENT_BUFFER` messages behind is disconnected.',
          security: [{ bearer: [] }],
          parameters: [streamId, { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' } }],
          responses: {
            '200': { description: 'the event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
            '400': error('bad stream id'),
            '401': error('missing or wrong bearer token'),
            '503': error('too many live subscribers'),
          },
        },
      },
      '/healthz': {
        get: {
          summary: 'Liveness',
          responses: { '200': json(ref('Health'), 'alive'), '503': json(ref('Health'), 'failed; restart it') },
        },
      },
      '/readyz': {
        get: {
          summary: 'Readiness: producer connected, live feed joined, models loaded',
          responses: { '200': json(ref('Health'), 'ready'), '503': json(ref('Health'), 'not ready') },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics (streamcell_gateway_*)',
          responses: { '200': { description: 'text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } },
      },
      '/': {
        get: { summary: 'The forecast explorer page', responses: { '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } } },
      },
      '/explorer.js': {
        get: { summary: "The page's script", responses: { '200': { description: 'JavaScript', content: { 'text/javascript': { schema: { type: 'string' } } } } } },
      },
      '/explorer.css': {
        get: { summary: "The page's style sheet", responses: { '200': { description: 'CSS', content: { 'text/css': { schema: { type: 'string' } } } } } },
      },
    },
  };
}
