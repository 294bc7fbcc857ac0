import { describe, expect, it } from 'vitest';
import { isStreamcellError } from '@streamcell/protocol';
import { ENV_VARS, describeConfig, loadConfig } from '../src/config.ts';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    expect(isStreamcellError(err, 'config_invalid')).toBe(true);
    return (err as Error).message.split('\n').slice(1).map((l) => l.trim());
  }
}

describe('worker configuration', () => {
  it('runs embedded with sensible defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c.kafkaBrokers).toBeUndefined();
    expect(c.redisUrl).toBeUndefined();
    expect(c.eventsTopics).toEqual(['events']);
    expect(c.forecastsTopic).toBe('forecasts');
    expect(c.stateTtlMs).toBe(604_800_000);
    expect(c.acceptOutOfOrder).toBe(false);
  });

  it('reads the distributed settings', () => {
    const c = loadConfig({ KAFKA_BROKERS: 'k1:9092, k2:9092', REDIS_URL: 'redis://r:6379', TOPIC_MODELS: 'a=m1,b=m2', OUT_OF_ORDER: 'accept' });
    expect(c.kafkaBrokers).toEqual(['k1:9092', 'k2:9092']);
    expect(Object.fromEntries(c.topicModels)).toEqual({ a: 'm1', b: 'm2' });
    expect(c.acceptOutOfOrder).toBe(true);
  });

  it('names every bad variable on its own line, all at once', () => {
    const lines = problems({
      KAFKA_BROKERS: 'kafka',
      REDIS_URL: 'http://x',
      STATE_TTL_SECONDS: '-1',
      OUT_OF_ORDER: 'maybe',
      TOPIC_MODELS: 'nonsense',
      METRICS_PORT: '70000',
      LOG_LEVEL: 'loud',
      FORECASTS_TOPIC: 'events',
    });
    const names = lines.map((l) => l.split(/[=:]/)[0]);
    expect(names).toEqual(['KAFKA_BROKERS', 'REDIS_URL', 'TOPIC_MODELS', 'FORECASTS_TOPIC', 'LOG_LEVEL', 'OUT_OF_ORDER', 'STATE_TTL_SECONDS', 'METRICS_PORT']);
  });

  it('reads the group timeouts and refuses a heartbeat interval not below the session timeout', () => {
    expect(loadConfig({})).toMatchObject({ sessionTimeoutMs: 30_000, heartbeatIntervalMs: 3_000 });
    expect(loadConfig({ KAFKA_SESSION_TIMEOUT_MS: '6000', KAFKA_HEARTBEAT_INTERVAL_MS: '500' })).toMatchObject({ sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 });
    expect(problems({ KAFKA_SESSION_TIMEOUT_MS: '6000', KAFKA_HEARTBEAT_INTERVAL_MS: '6000' })).toEqual(['KAFKA_HEARTBEAT_INTERVAL_MS=6000: must be below KAFKA_SESSION_TIMEOUT_MS (6000)']);
  });

  it('reads the fetch settings: answer at once by default, wait for data when asked, refuse zero', () => {
    expect(loadConfig({})).toMatchObject({ fetchMinBytes: 1, fetchMaxWaitMs: 1000 });
    expect(loadConfig({ KAFKA_FETCH_MIN_BYTES: '65536', KAFKA_FETCH_MAX_WAIT_MS: '10' })).toMatchObject({ fetchMinBytes: 65_536, fetchMaxWaitMs: 10 });
    expect(problems({ KAFKA_FETCH_MIN_BYTES: '0', KAFKA_FETCH_MAX_WAIT_MS: 'soon' }).map((l) => l.split(/[=:]/)[0]).sort()).toEqual(['KAFKA_FETCH_MAX_WAIT_MS', 'KAFKA_FETCH_MIN_BYTES']);
    expect(problems({ KAFKA_SESSION_TIMEOUT_MS: '6000', KAFKA_FETCH_MAX_WAIT_MS: '8000', DRAIN_TIMEOUT_MS: '5000' })).toEqual([
      'KAFKA_FETCH_MAX_WAIT_MS=8000: must be below KAFKA_SESSION_TIMEOUT_MS (6000)',
      'KAFKA_FETCH_MAX_WAIT_MS=8000: must be below DRAIN_TIMEOUT_MS (5000)',
    ]);
  });

  it('refuses half of the distributed pair', () => {
    expect(problems({ KAFKA_BROKERS: 'k:9092' })).toEqual(['KAFKA_BROKERS and REDIS_URL: set both (distributed mode) or neither (embedded mode)']);
  });

  it('hides the Redis password when the configuration is logged', () => {
    const c = loadConfig({ KAFKA_BROKERS: 'k:9092', REDIS_URL: 'redis://default:s3cret@r:6379' });
    const shown = JSON.stringify(describeConfig(c, (u) => u.replace('s3cret', '***')));
    expect(shown).not.toContain('s3cret');
  });

  it('documents a default for every optional variable', () => {
    for (const v of ENV_VARS) if (!v.required && v.name !== 'DEFAULT_MODEL') expect(v.default, v.name).toBeDefined();
  });
});
