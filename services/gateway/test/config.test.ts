import { describe, expect, it } from 'vitest';
import { isStreamcellError } from '@streamcell/protocol';
import { ENV_VARS as WORKER_ENV_VARS } from '@streamcell/worker';
import { ENV_VARS, describeConfig, envTable, loadConfig } from '../src/config.ts';

const BASE = { KAFKA_BROKERS: 'kafka:9092', REDIS_URL: 'redis://redis:6379' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (isStreamcellError(err, 'config_invalid')) return err.message.split('\n').slice(1).map((l) => l.trim());
    throw err;
  }
  return [];
}

describe('gateway configuration', () => {
  it('starts from the documented defaults', () => {
    const c = loadConfig(BASE);
    expect(c).toMatchObject({ eventsTopic: 'events', forecastsTopic: 'forecasts', port: 8080, token: undefined, bodyLimitBytes: 1_048_576, maxBatchEvents: 1000, stateTtlMs: 604_800_000 });
  });

  it('keeps PRODUCE_MAX_PENDING_BYTES at least BODY_LIMIT_BYTES, so that a full request can be taken', () => {
    expect(loadConfig(BASE).producePendingBytes).toBe(64 * 1024 * 1024);
    expect(problems({ ...BASE, PRODUCE_MAX_PENDING_BYTES: '100000' })).toEqual([
      'PRODUCE_MAX_PENDING_BYTES=100000: must be at least BODY_LIMIT_BYTES (1048576), or a full request could never be taken',
    ]);
  });

  it('names every bad variable on a line of its own', () => {
    const lines = problems({ KAFKA_BROKERS: 'kafka', REDIS_URL: 'http://x', PORT: '70000', LIVE_CLIENT_BUFFER: '0', EVENTS_TOPIC: 'bad topic', LOG_LEVEL: 'loud', GATEWAY_TOKEN: 'short' });
    expect(lines).toHaveLength(7);
    for (const name of ['KAFKA_BROKERS', 'REDIS_URL', 'PORT', 'LIVE_CLIENT_BUFFER', 'EVENTS_TOPIC', 'LOG_LEVEL', 'GATEWAY_TOKEN']) {
      expect(lines.filter((l) => l.startsWith(name)), name).toHaveLength(1);
    }
    expect(lines.join('\n')).not.toContain('short');
  });

  it('needs Kafka and Redis, and a body limit that fits one event', () => {
    expect(problems({})).toEqual(['KAFKA_BROKERS: required (host:port,host:port)', 'REDIS_URL: required (redis://host:port)']);
    expect(problems({ ...BASE, BODY_LIMIT_BYTES: '2048', MAX_EVENT_BYTES: '4096' })).toEqual(['BODY_LIMIT_BYTES=2048: must be at least MAX_EVENT_BYTES (4096)']);
    expect(problems({ ...BASE, EVENTS_TOPIC: 'x', FORECASTS_TOPIC: 'x' })).toEqual(['FORECASTS_TOPIC=x: must differ from EVENTS_TOPIC']);
  });

  it('never puts the token in the logged configuration', () => {
    const token = 'a-long-secret-token-value';
    const described = JSON.stringify(describeConfig(loadConfig({ ...BASE, GATEWAY_TOKEN: token, REDIS_URL: 'redis://:pw@redis:6379' }), (u) => u.replace(':pw@', ':***@')));
    expect(described).not.toContain(token);
    expect(described).not.toContain(':pw@');
    expect(described).toContain('bearer token');
  });

  it('shares names and defaults with the worker for the variables both read', () => {
    const shared = ENV_VARS.filter((v) => WORKER_ENV_VARS.some((w) => w.name === v.name) && !['REDIS_COMMAND_TIMEOUT_MS', 'CREATE_TOPICS', 'DRAIN_TIMEOUT_MS'].includes(v.name));
    expect(shared.map((v) => v.name)).toEqual(expect.arrayContaining(['MODELS_DIR', 'FORECASTS_TOPIC', 'DEFAULT_MODEL', 'TOPIC_MODELS', 'STATE_KEY_PREFIX', 'STATE_TTL_SECONDS', 'MAX_EVENT_BYTES']));
    for (const v of shared) expect(v.default, v.name).toBe(WORKER_ENV_VARS.find((w) => w.name === v.name)!.default);
  });
});

describe('envTable', () => {
  it('renders one README row per variable, in the shape the README check reads', () => {
    const rows = envTable().split('\n').slice(2);
    expect(rows).toHaveLength(ENV_VARS.length);
    const parsed = rows.map((r) => /^\| `([A-Z_]+)` \| ([^|]*) \|/.exec(r)!);
    expect(parsed.map((m) => m[1])).toEqual(ENV_VARS.map((v) => v.name));
    expect(parsed.find((m) => m[1] === 'PORT')![2]!.trim()).toBe('`8080`');
    expect(parsed.find((m) => m[1] === 'GATEWAY_TOKEN')![2]!.trim()).toBe('');
    expect(parsed.find((m) => m[1] === 'TOPIC_MODELS')![2]!.trim()).toBe('(empty)');
  });
});
