import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_HEADERS, deadLetter, deadLetterTopic, encodeForecast, forecastSteps, idempotencyKey } from '../src/index.ts';

describe('forecast messages', () => {
  it('lays the head output out step by step, keyed by target', () => {
    expect(forecastSteps([1, 2, 3, 4], ['temp', 'humidity'], 2)).toEqual([
      { temp: 1, humidity: 2 },
      { temp: 3, humidity: 4 },
    ]);
    expect(() => forecastSteps([1, 2, 3], ['temp', 'humidity'], 2)).toThrow(RangeError);
  });

  it('serialises with the source coordinates as idempotency key', () => {
    const source = { topic: 'events', partition: 4, offset: '1812' };
    const msg = { stream: 's', ts: 1, model: { name: 'm', version: '3' }, source, forecast: [{ temp: 1 }] };
    expect(JSON.parse(encodeForecast(msg).toString())).toEqual(msg);
    expect(idempotencyKey(source)).toBe('events/4/1812');
  });
});

describe('dead letters', () => {
  it('keep the original bytes and say why in headers', () => {
    const value = Buffer.from([0xff, 0x00, 0x7b]);
    const dl = deadLetter({ key: Buffer.from('k'), value }, { topic: 'events', partition: 2, offset: '9' }, 'malformed_json', 'not JSON');
    expect(dl.value).toBe(value);
    expect(dl.headers[DEAD_LETTER_HEADERS.code]).toBe('malformed_json');
    expect(dl.headers[DEAD_LETTER_HEADERS.partition]).toBe('2');
    expect(deadLetterTopic('events')).toBe('events.dlq');
    expect(dl.headers[DEAD_LETTER_HEADERS.originalBytes]).toBeUndefined();
  });

  it('cut values over the limit, saying so, so that a dead letter always fits where its event did', () => {
    const value = Buffer.alloc(100, 0x61);
    const dl = deadLetter({ key: null, value }, { topic: 'events', partition: 0, offset: '1' }, 'too_large', 'event is 100 bytes');
    expect(dl.value).toBe(value);
    const cut = deadLetter({ key: null, value }, { topic: 'events', partition: 0, offset: '1' }, 'too_large', 'event is 100 bytes', 64);
    expect(cut.value).toEqual(value.subarray(0, 64));
    expect(cut.headers[DEAD_LETTER_HEADERS.originalBytes]).toBe('100');
  });
});
