import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_HEADERS, ForecastWriter, deadLetter, deadLetterTopic, encodeForecast, float32Number, forecastSteps, idempotencyKey } from '../src/index.ts';

describe('forecast messages', () => {
  it('lays the head output out step by step, keyed by target', () => {
    expect(forecastSteps([1, 2, 3, 4], ['temp', 'humidity'], 2)).toEqual([
      { temp: 1, humidity: 2 },
      { temp: 3, humidity: 4 },
    ]);
    expect(() => forecastSteps([1, 2, 3], ['temp', 'humidity'], 2)).toThrow(RangeError);
  });

  it('carries values at float32 precision, the shortest decimal that reads back', () => {
    const [step] = forecastSteps([Math.fround(21.6), 0.1, NaN], ['temp', 'humidity', 'light'], 1);
    expect(step).toEqual({ temp: 21.6, humidity: 0.1, light: NaN });
    expect(encodeForecast({ stream: 's', ts: 1, model: { name: 'm', version: '1' }, source: { topic: 't', partition: 0, offset: '0' }, forecast: [step!] }).toString()).toContain('"forecast":[{"temp":21.6,"humidity":0.1,"light":null}]');
  });

  it('serialises with the source coordinates as idempotency key', () => {
    const source = { topic: 'events', partition: 4, offset: '1812' };
    const msg = { stream: 's', ts: 1, model: { name: 'm', version: '3' }, source, forecast: [{ temp: 1 }] };
    expect(JSON.parse(encodeForecast(msg).toString())).toEqual(msg);
    expect(idempotencyKey(source)).toBe('events/4/1812');
  });
});

describe('ForecastWriter', () => {
  /** What the writer must equal: the message object through encodeForecast. */
  const viaObject = (
    model: { name: string; version: string },
    targets: string[],
    horizon: number,
    args: { stream: string; ts: number; topic: string; partition: number; offset: string; flat: number[]; error: number[] | null },
  ): Buffer =>
    encodeForecast({
      stream: args.stream,
      ts: args.ts,
      model,
      source: { topic: args.topic, partition: args.partition, offset: args.offset },
      forecast: forecastSteps(args.flat, targets, horizon),
      ...(args.error === null ? {} : { error: Object.fromEntries(targets.map((t, j) => [t, float32Number(args.error![j]!)])) }),
    });

  it('writes the bytes encodeForecast writes, for awkward names and numbers too', () => {
    let seed = 12345;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const names = ['temp', 'humidity', '2', '10', '0', 'é"\\n', 'tab\t', '__proto__', 'constructor', '😀', '-1', '1.5', '007'];
    const numbers = [0, -0, 1, -1.5, NaN, Infinity, -Infinity, 1e21, 1e-7, 5e-324, 123456789.123, Math.fround(0.1), -Math.fround(3.3), 2 ** 53 + 2];
    const streams = ['s', 'sensor-42', 'ünï"code\\', '\u2028', 'x'.repeat(256), 'del\u007f', 'a/b~ {}', 'lone\ud800', 'tab\there', '~'];
    for (let round = 0; round < 300; round++) {
      const count = 1 + Math.floor(rand() * 4);
      const targets = [...new Set(Array.from({ length: count }, () => pick(names)))];
      const horizon = 1 + Math.floor(rand() * 4);
      const model = { name: pick(['m', 'weather', 'a"b']), version: pick(['1', '10', 'v"2']) };
      const writer = new ForecastWriter(model, targets, horizon);
      for (let msg = 0; msg < 3; msg++) {
        const args = {
          stream: pick(streams),
          ts: pick([0, 1764219600000, 1.5]),
          topic: pick(['events', 'sensors.v2', 'qu"ote']),
          partition: Math.floor(rand() * 12),
          offset: String(Math.floor(rand() * 1e12)),
          flat: Array.from({ length: horizon * targets.length }, () => (rand() < 0.5 ? pick(numbers) : rand() * 200 - 100)),
          error: rand() < 0.3 ? null : Array.from({ length: targets.length }, () => pick(numbers)),
        };
        const got = writer.write(args.stream, args.ts, args.topic, args.partition, args.offset, Float64Array.from(args.flat), args.error && Float64Array.from(args.error));
        expect(got.toString('utf8'), JSON.stringify({ targets, horizon, args })).toBe(viaObject(model, targets, horizon, args).toString('utf8'));
        expect(got.length).toBeLessThanOrEqual(writer.maxBytes(args.stream, args.topic, args.offset));
      }
    }
  });

  it('hands out messages that stay intact while later ones are written, across slabs', () => {
    const writer = new ForecastWriter({ name: 'm', version: '1' }, ['a', 'b'], 4);
    const made: { got: Buffer; args: Parameters<typeof viaObject>[3] }[] = [];
    // About 250 bytes each: 1,000 of them fill several 64 KiB slabs.
    for (let i = 0; i < 1000; i++) {
      const args = { stream: `stream-${i % 37}`, ts: 1764219600000 + i, topic: 'events', partition: i % 12, offset: String(i), flat: Array.from({ length: 8 }, (_, j) => Math.fround(i / 7 + j)), error: i % 3 === 0 ? null : [i / 3, -i] };
      made.push({ got: writer.write(args.stream, args.ts, args.topic, args.partition, args.offset, args.flat, args.error), args });
    }
    expect(new Set(made.map((m) => m.got.buffer)).size).toBeGreaterThan(1);
    for (const { got, args } of made) expect(got.toString('utf8')).toBe(viaObject({ name: 'm', version: '1' }, ['a', 'b'], 4, args).toString('utf8'));
  });

  it('makes room for long stream ids and keeps earlier messages intact', () => {
    const writer = new ForecastWriter({ name: 'm', version: '1' }, ['a', 'b'], 2);
    const flat = [1.5, -2.25, Math.fround(0.1), 1e-7];
    const short = writer.write('s', 1, 't', 0, '7', flat, [0.5, -0.5]);
    const before = short.toString('utf8');
    const long = 'é😀\u0001'.repeat(1500);
    const big = writer.write(long, 2, 't', 3, '8', flat, null);
    const expected = viaObject({ name: 'm', version: '1' }, ['a', 'b'], 2, { stream: long, ts: 2, topic: 't', partition: 3, offset: '8', flat, error: null });
    expect(big.equals(expected)).toBe(true);
    expect(big.length).toBeGreaterThan(4096);
    expect(short.toString('utf8')).toBe(before);
    expect(writer.write('s', 1, 't', 0, '7', flat, [0.5, -0.5]).equals(short)).toBe(true);
  });

  it('refuses arrays shorter than the model needs', () => {
    const writer = new ForecastWriter({ name: 'm', version: '1' }, ['a', 'b'], 2);
    expect(() => writer.write('s', 1, 't', 0, '0', [1, 2, 3], null)).toThrow(RangeError);
    expect(() => writer.write('s', 1, 't', 0, '0', [1, 2, 3, 4], [1])).toThrow(RangeError);
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
