import { describe, expect, it } from 'vitest';
import { isStreamcellError } from '@streamcell/protocol';
import { LOG_LEVELS, createSettingsReader, envTable, isTopicName, type EnvVar } from '../src/index.ts';

const VARS: readonly EnvVar[] = [
  { name: 'KAFKA_BROKERS', required: true, description: 'Brokers.' },
  { name: 'REDIS_URL', required: true, description: 'Redis.' },
  { name: 'EVENTS_TOPIC', required: false, default: 'events', description: 'Topic.' },
  { name: 'TOPIC_MODELS', required: false, default: '', description: 'Routes, `topic=model`.' },
  { name: 'PORT', required: false, default: '8080', description: 'Port.' },
  { name: 'MODE', required: false, default: 'reject', description: 'Mode.' },
  { name: 'NAMES', required: false, default: 'a, b', description: 'Names.' },
  { name: 'LOG_LEVEL', required: false, default: 'info', description: 'Level.' },
  { name: 'NOTE', required: false, description: 'No default.' },
];

/** The error `throwIfProblems` throws, or undefined when it does not. */
function thrown(run: () => void): Error | undefined {
  try {
    run();
  } catch (err) {
    return err as Error;
  }
  return undefined;
}

describe('createSettingsReader', () => {
  it('reads values trimmed, and falls back to the default when unset or blank', () => {
    const s = createSettingsReader({ EVENTS_TOPIC: '  mine ', PORT: '', NOTE: '   ' }, VARS);
    expect(s.text('EVENTS_TOPIC')).toBe('mine');
    expect(s.int('PORT', 0, 65_535)).toBe(8080);
    expect(s.text('NOTE')).toBeUndefined();
    expect(s.list('NAMES')).toEqual(['a', 'b']);
    expect(s.oneOf('MODE', ['reject', 'accept'] as const)).toBe('reject');
    expect(s.logLevel()).toBe('info');
    expect(s.topicModels().size).toBe(0);
    expect(s.problems).toEqual([]);
    expect(() => s.throwIfProblems()).not.toThrow();
  });

  it('refuses to read a variable that is not in the list', () => {
    const s = createSettingsReader({ UNLISTED: 'x' }, VARS);
    expect(() => s.text('UNLISTED')).toThrow(/UNLISTED is not in the list/);
  });

  it('notes one line per bad value, in the order read, and returns a safe value for each', () => {
    const s = createSettingsReader(
      { PORT: '8o80', MODE: 'maybe', EVENTS_TOPIC: 'bad topic', TOPIC_MODELS: 'a=m1,nonsense', LOG_LEVEL: 'loud', KAFKA_BROKERS: 'k1:9092,kafka', REDIS_URL: 'http://r:6379' },
      VARS,
    );
    expect(s.int('PORT', 1, 65_535)).toBe(1);
    expect(s.oneOf('MODE', ['reject', 'accept'] as const)).toBe('reject');
    expect(s.topic('EVENTS_TOPIC')).toBe('bad topic');
    expect(Object.fromEntries(s.topicModels())).toEqual({ a: 'm1' });
    expect(s.logLevel()).toBe('loud');
    expect(s.brokers()).toEqual(['k1:9092', 'kafka']);
    expect(s.redisUrl()).toBe('http://r:6379');
    expect(s.problems).toEqual([
      'PORT=8o80: must be a whole number from 1 to 65535',
      'MODE=maybe: must be one of reject, accept',
      'EVENTS_TOPIC=bad topic: not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)',
      'TOPIC_MODELS: "nonsense" is not topic=model',
      `LOG_LEVEL=loud: must be one of ${LOG_LEVELS.join(', ')}`,
      'KAFKA_BROKERS: "kafka" is not host:port',
      'REDIS_URL: scheme must be redis:// or rediss://, got http:',
    ]);
  });

  it('bounds whole numbers on both sides and takes no signs, fractions or exponents', () => {
    const read = (v: string): number => createSettingsReader({ PORT: v }, VARS).int('PORT', 10, 100);
    expect(read('10')).toBe(10);
    expect(read('100')).toBe(100);
    for (const bad of ['9', '101', '-20', '+20', '20.5', '2e1', 'x']) {
      const r = createSettingsReader({ PORT: bad }, VARS);
      r.int('PORT', 10, 100);
      expect(r.problems, bad).toEqual([`PORT=${bad}: must be a whole number from 10 to 100`]);
    }
  });

  it('makes a missing broker list or Redis URL a problem only when asked to', () => {
    const optional = createSettingsReader({}, VARS);
    expect(optional.brokers()).toEqual([]);
    expect(optional.redisUrl()).toBeUndefined();
    expect(optional.problems).toEqual([]);
    const required = createSettingsReader({}, VARS);
    required.brokers({ required: true });
    required.redisUrl({ required: true });
    expect(required.problems).toEqual(['KAFKA_BROKERS: required (host:port,host:port)', 'REDIS_URL: required (redis://host:port)']);
  });

  it('takes redis:// and rediss:// URLs and says when a value is no URL at all', () => {
    for (const url of ['redis://r:6379', 'rediss://user:pw@r:6380/2']) {
      const s = createSettingsReader({ REDIS_URL: url }, VARS);
      expect(s.redisUrl()).toBe(url);
      expect(s.problems, url).toEqual([]);
    }
    const s = createSettingsReader({ REDIS_URL: 'not a url' }, VARS);
    s.redisUrl();
    expect(s.problems).toEqual(['REDIS_URL: not a URL (expected redis://host:port)']);
  });

  it('throws one config_invalid error with every problem on a line of its own', () => {
    const s = createSettingsReader({ PORT: 'x', MODE: 'y' }, VARS);
    s.int('PORT', 0, 65_535);
    s.oneOf('MODE', ['reject', 'accept'] as const);
    s.problem('PORT and MODE: a rule across the two');
    const err = thrown(() => s.throwIfProblems());
    expect(isStreamcellError(err, 'config_invalid')).toBe(true);
    expect(err!.message).toBe(
      ['invalid configuration:', '  PORT=x: must be a whole number from 0 to 65535', '  MODE=y: must be one of reject, accept', '  PORT and MODE: a rule across the two'].join('\n'),
    );
  });

  it('words the error as asked: another code and heading, one problem alone without it', () => {
    const one = createSettingsReader({}, VARS);
    one.problem('only this');
    const single = thrown(() => one.throwIfProblems({ code: 'usage', heading: 'invalid settings:', bareWhenOne: true }));
    expect(isStreamcellError(single, 'usage')).toBe(true);
    expect(single!.message).toBe('only this');
    one.problem('and this');
    expect(thrown(() => one.throwIfProblems({ code: 'usage', heading: 'invalid settings:', bareWhenOne: true }))!.message).toBe('invalid settings:\n  only this\n  and this');
  });

  it('lets the caller look values up its own way (flags before variables)', () => {
    const flags: Record<string, string> = { PORT: '9000' };
    const env: Record<string, string> = { PORT: '8000', EVENTS_TOPIC: ' spaced ' };
    const s = createSettingsReader(env, VARS, { read: (v) => flags[v.name] ?? env[v.name] ?? v.default });
    expect(s.int('PORT', 0, 65_535)).toBe(9000);
    expect(s.text('EVENTS_TOPIC')).toBe(' spaced ');
    expect(s.text('MODE')).toBe('reject');
  });
});

describe('isTopicName', () => {
  it('follows Kafka\'s rule for topic names', () => {
    for (const good of ['events', 'a.b_c-D9', 'x'.repeat(249)]) expect(isTopicName(good), good).toBe(true);
    for (const bad of ['', '.', '..', 'bad topic', 'é', 'x'.repeat(250), 'a/b']) expect(isTopicName(bad), bad).toBe(false);
  });
});

describe('envTable', () => {
  it('renders a header and one row per variable: name, default (blank when none, "(empty)" when empty), meaning', () => {
    expect(envTable(VARS.slice(2, 4)).split('\n')).toEqual([
      '| variable | default | meaning |',
      '| --- | --- | --- |',
      '| `EVENTS_TOPIC` | `events` | Topic. |',
      '| `TOPIC_MODELS` | (empty) | Routes, `topic=model`. |',
    ]);
    expect(envTable(VARS.slice(0, 1)).split('\n')[2]).toBe('| `KAFKA_BROKERS` |  | Brokers. |');
  });
});
