/**
 * Bad input on the real Kafka and Redis: a stream where every tenth event is
 * bad, cycling through every dead-letter code, beside clean streams, and a
 * second events topic carrying nothing but bad events (so that whole batches
 * have no valid event). Every good event is forecast exactly as `streamcell
 * predict` computes it over the good events alone; every bad one lands on
 * `<its events topic>.dlq` with its code, its original key and bytes and its
 * source coordinates; the worker process never stops (same process, healthy)
 * and counts each code in /metrics.
 */
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_CODES, DEAD_LETTER_HEADERS, type DeadLetterCode, type ForecastMessage } from '@streamcell/protocol';
import { decodeRecord, stateKey } from '@streamcell/state';
import { connectProducer, readTopic, waitForGroupCaughtUp, type ReadMessage } from './support/kafka.ts';
import { DAY, FEATURES, MODEL, T0, eventJson, flatForecast, loadWeatherModel, offlinePredict, planStreams, readStates, sameBits, weatherRows } from './support/streams.ts';
import { WorkerProcess, workerEnv } from './support/worker-process.ts';
import { workerSuite } from './support/suite.ts';

const DIRTY = 'dirty-station';
const DIRTY_EVENTS = 300;
const CLEAN_STREAMS = 3;
const CLEAN_EVENTS = 100;

/** One bad event of each code, for the dirty stream's i-th position. */
function badEvent(code: DeadLetterCode, i: number): string {
  const ts = T0 + i * DAY;
  const good = { precipitation: 0.5, temp_max: 12.2, temp_min: 4.4, wind: 3.1 };
  switch (code) {
    case 'malformed_json':
      return `{"stream":"${DIRTY}","ts":${ts},"values":[1,2`;
    case 'schema':
      return JSON.stringify({ stream: DIRTY, ts, values: 'warm and dry' });
    case 'wrong_dimension':
      return JSON.stringify({ stream: DIRTY, ts, values: [0.5, 12.2, 4.4] });
    case 'unknown_feature':
      return JSON.stringify({ stream: DIRTY, ts, values: { ...good, humidity: 81 } });
    case 'non_finite':
      // JSON has no Infinity, but 1e999 parses to it.
      return `{"stream":"${DIRTY}","ts":${ts},"values":{"precipitation":0.5,"temp_max":1e999,"temp_min":4.4,"wind":3.1}}`;
    case 'stream_id_invalid':
      return JSON.stringify({ stream: `${DIRTY}\u0007`, ts, values: good });
    case 'unknown_model':
      return JSON.stringify({ stream: DIRTY, ts, model: 'no-such-model', values: good });
    case 'out_of_order':
      // Valid, but five days before the event just applied.
      return JSON.stringify({ stream: DIRTY, ts: ts - 5 * DAY, values: good });
    case 'too_large':
      // Valid JSON above MAX_EVENT_BYTES (64 KiB by default).
      return JSON.stringify({ stream: DIRTY, ts, values: good, note: 'x'.repeat(70_000) });
  }
}

/** The value of `name{label="value"}` (or of `name` without labels) in Prometheus text, or undefined. */
function metricValue(text: string, name: string, label?: string, value?: string): number | undefined {
  const labels = label === undefined ? '' : `\\{[^}]*${label}="${value}"[^}]*\\}`;
  const m = new RegExp(`^${name}${labels} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

describe('worker: bad input becomes dead letters, never a stop', () => {
  const suite = workerSuite();
  const workers = suite.workers;

  it('forecasts every good event, dead-letters every bad one with its code and bytes, and keeps running', { timeout: 120_000 }, async () => {
    const { env } = suite;
    const { eventsTopic, forecastsTopic, dlqTopic, group, dir, wiring } = await suite.wire('bad-input', 3, { dlqPartitions: 2 });
    const junkTopic = await env.createTopic('junk', 1);
    const junkDlqTopic = await env.createTopic('junk.dlq', 1);

    // The dirty stream: position i is bad when i % 10 == 9, the codes in turn; the rest are real weather.
    const data = weatherRows();
    const dirty: { value: string; code: DeadLetterCode | null; row?: number[] }[] = [];
    for (let i = 0; i < DIRTY_EVENTS; i++) {
      if (i % 10 === 9) {
        const code = DEAD_LETTER_CODES[((i - 9) / 10) % DEAD_LETTER_CODES.length]!;
        dirty.push({ value: badEvent(code, i), code });
      } else {
        const row = data[i]!;
        dirty.push({ value: JSON.stringify({ stream: DIRTY, ts: T0 + i * DAY, values: Object.fromEntries(FEATURES.map((f, j) => [f, row[j]])) }), code: null, row });
      }
    }
    const expectedCodes = new Map<string, number>();
    for (const d of dirty) if (d.code) expectedCodes.set(d.code, (expectedCodes.get(d.code) ?? 0) + 1);
    expect([...expectedCodes.keys()].sort(), 'every dead-letter code is covered').toEqual([...DEAD_LETTER_CODES].sort());
    const clean = planStreams('clean', CLEAN_STREAMS, CLEAN_EVENTS);
    // The junk topic: bad events only, every code that needs no stream history, twice.
    const junk = [...DEAD_LETTER_CODES, ...DEAD_LETTER_CODES].filter((c) => c !== 'out_of_order').map((code, i) => ({ code, value: badEvent(code, 1000 + i) }));
    // Just under the broker's 1 MiB message limit: its dead letter, with headers, would not fit whole.
    const huge = JSON.stringify({ stream: DIRTY, ts: T0, values: [1, 2, 3, 4], note: 'x'.repeat(1_000_000) });
    junk.push({ code: 'too_large', value: huge });
    for (const j of junk) expectedCodes.set(j.code, (expectedCodes.get(j.code) ?? 0) + 1);

    const worker = await WorkerProcess.start('worker', workerEnv(wiring, { EVENTS_TOPICS: `${eventsTopic},${junkTopic}` }), dir);
    workers.push(worker);
    const startedAt = metricValue((await worker.get('/metrics')).text, 'streamcell_worker_process_start_time_seconds');
    expect(startedAt).toBeGreaterThan(0);

    const producer = await connectProducer(env.kafka);
    try {
      // Interleaved, in a few sends, so that bad and good events share batches.
      const messages: { key: string; value: string }[] = [];
      for (let i = 0; i < DIRTY_EVENTS; i++) {
        messages.push({ key: DIRTY, value: dirty[i]!.value });
        const k = Math.floor(i / 3);
        if (i % 3 === 0 && k < CLEAN_EVENTS) for (const p of clean) messages.push({ key: p.stream, value: eventJson(p, k) });
      }
      for (let i = 0; i < messages.length; i += 50) await producer.send({ topic: eventsTopic, acks: -1, messages: messages.slice(i, i + 50) });
      await producer.send({ topic: junkTopic, acks: -1, messages: junk.slice(0, -1).map((j) => ({ key: DIRTY, value: j.value })) });
      // Alone: with the others it would not fit in one record batch.
      await producer.send({ topic: junkTopic, acks: -1, messages: [{ key: DIRTY, value: huge }] });
    } finally {
      await producer.disconnect();
    }
    for (const topic of [eventsTopic, junkTopic]) {
      await waitForGroupCaughtUp(env.admin, group, topic, {
        timeoutMs: 60_000,
        check: () => {
          if (worker.exit !== null) throw new Error(`worker exited (${JSON.stringify(worker.exit)}); see ${worker.logPath}`);
        },
      });
    }

    // Still the same process, alive and healthy, started once.
    expect(worker.exit, `worker still running; see ${worker.logPath}`).toBeNull();
    expect(() => process.kill(worker.pid, 0)).not.toThrow();
    const health = await worker.get('/healthz');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text)).toMatchObject({ status: 'ok', state: 'running' });
    expect(worker.lines.filter((l) => l.msg === 'starting')).toHaveLength(1);
    const metrics = (await worker.get('/metrics')).text;
    expect(metricValue(metrics, 'streamcell_worker_process_start_time_seconds'), 'the process serving /metrics is the one that started').toBe(startedAt);
    for (const code of DEAD_LETTER_CODES) {
      expect(metricValue(metrics, 'streamcell_dead_letters_total', 'code', code), `streamcell_dead_letters_total{code="${code}"}`).toBe(expectedCodes.get(code));
    }

    const read = (topic: string): Promise<ReadMessage[]> => readTopic(env.kafka, env.admin, topic);
    const [events, published, dlq, junkEvents, junkDlq] = await Promise.all([read(eventsTopic), read(forecastsTopic), read(dlqTopic), read(junkTopic), read(junkDlqTopic)]);

    // Batches without a single valid event: their dead letters too, in order, each with its code and bytes.
    expect(junkEvents.map((e) => e.value!.toString())).toEqual(junk.map((j) => j.value));
    expect(junkDlq.map((m) => m.headers[DEAD_LETTER_HEADERS.code]), `codes on ${junkDlqTopic}`).toEqual(junk.map((j) => j.code));
    expect(junkDlq.map((m) => [m.headers[DEAD_LETTER_HEADERS.topic], m.headers[DEAD_LETTER_HEADERS.partition], m.headers[DEAD_LETTER_HEADERS.offset]])).toEqual(
      junkEvents.map((e) => [junkTopic, String(e.partition), e.offset]),
    );
    const whole = junkDlq.slice(0, -1);
    expect(whole.every((m, i) => m.value!.equals(junkEvents[i]!.value!) && m.key!.equals(junkEvents[i]!.key!)), 'dead letters carry the original key and bytes').toBe(true);
    expect(whole.every((m) => m.headers[DEAD_LETTER_HEADERS.originalBytes] === undefined)).toBe(true);
    // The near-1 MiB event: its dead letter is cut to DEAD_LETTER_MAX_BYTES and says how long it was.
    const cut = junkDlq.at(-1)!;
    expect(cut.value!.equals(junkEvents.at(-1)!.value!.subarray(0, 524_288))).toBe(true);
    expect(cut.headers[DEAD_LETTER_HEADERS.originalBytes]).toBe(String(Buffer.byteLength(huge)));
    const dirtyEvents = events.filter((e) => e.key?.toString() === DIRTY);
    expect(dirtyEvents.map((e) => e.value!.toString())).toEqual(dirty.map((d) => d.value));

    // Dead letters: each bad event once, with its code, original key and bytes, and where it came from.
    const bad = dirtyEvents.filter((_, i) => dirty[i]!.code !== null);
    const letters = new Map(dlq.map((m) => [`${m.headers[DEAD_LETTER_HEADERS.topic]}/${m.headers[DEAD_LETTER_HEADERS.partition]}/${m.headers[DEAD_LETTER_HEADERS.offset]}`, m]));
    expect(dlq).toHaveLength(bad.length);
    for (const [i, e] of dirtyEvents.entries()) {
      const letter = letters.get(`${e.topic}/${e.partition}/${e.offset}`);
      const code = dirty[i]!.code;
      if (code === null) {
        expect(letter, `good event ${i} is not a dead letter`).toBeUndefined();
        continue;
      }
      expect(letter, `bad event ${i} (${code}) is a dead letter`).toBeDefined();
      expect(letter!.headers[DEAD_LETTER_HEADERS.code], `code of bad event ${i}`).toBe(code);
      expect(letter!.headers[DEAD_LETTER_HEADERS.message]?.length ?? 0).toBeGreaterThan(0);
      expect(letter!.key?.equals(e.key!), `key of bad event ${i}`).toBe(true);
      expect(letter!.value?.equals(e.value!), `bytes of bad event ${i}`).toBe(true);
    }

    // Forecasts: exactly the good events, each once, as predict computes them over the good events alone.
    const byStream = new Map<string, ForecastMessage[]>();
    for (const m of published) {
      const f = JSON.parse(m.value!.toString()) as ForecastMessage;
      byStream.set(f.stream, [...(byStream.get(f.stream) ?? []), f]);
    }
    expect([...byStream.keys()].sort()).toEqual([DIRTY, ...clean.map((p) => p.stream)].sort());
    const model = await loadWeatherModel();
    const expectations = [
      { stream: DIRTY, rows: dirty.filter((d) => d.code === null).map((d) => d.row!), sources: dirtyEvents.filter((_, i) => dirty[i]!.code === null) },
      ...clean.map((p) => ({ stream: p.stream, rows: p.rows, sources: events.filter((e) => e.key?.toString() === p.stream) })),
    ];
    const states = await readStates(env.redis, expectations.map((x) => stateKey(env.keyPrefix, MODEL, x.stream)));
    for (const x of expectations) {
      const offline = await offlinePredict(model, x.rows);
      const mine = byStream.get(x.stream)!;
      expect(mine.map((f) => flatForecast(f.forecast)), `forecasts of ${x.stream}`).toEqual(offline.forecasts);
      expect(mine.map((f) => `${f.source.partition}/${f.source.offset}`)).toEqual(x.sources.map((e) => `${e.partition}/${e.offset}`));
      const rec = decodeRecord(states.get(stateKey(env.keyPrefix, MODEL, x.stream))!);
      if (typeof rec === 'string') throw new Error(`state of ${x.stream}: ${rec}`);
      expect(rec.steps).toBe(x.rows.length);
      expect(sameBits(rec.state, offline.finalState), `state of ${x.stream} is predict --state's over its good events`).toBe(true);
    }

    const exit = await worker.stop();
    expect(exit, `worker drained and exited 0; see ${worker.logPath}`).toEqual({ code: 0, signal: null });
  });
});
