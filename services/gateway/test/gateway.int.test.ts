/**
 * The gateway on the real Kafka and Redis, with a real worker behind it:
 * what POST /v1/events produces (and does not) on the real topic, the
 * partitions it lands on, the latest forecast read from the worker's state
 * in Redis, and the live feed over server-sent events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float32Number, type ForecastMessage } from '@streamcell/protocol';
import { partitionForKey } from '@streamcell/streams';
import { TOKEN, readEvents, readTopic, seattleWeather, startStack, until, type Stack } from './support/stack.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  await stack?.stop();
});

describe('gateway on Kafka and Redis', () => {
  it('produces the good events of a batch, keyed and partitioned by stream, and nothing for the bad ones', async () => {
    const good = [...(await seattleWeather('batch-a', 2)), ...(await seattleWeather('batch-b', 2)), ...(await seattleWeather('batch-c', 1))];
    const bad = [
      { stream: 'batch-x', values: { precipitation: 1, temp_max: 2, temp_min: 3, wind: 4, sun: 9 } },
      { stream: 'batch-x', values: [1, 2] },
      { stream: 'batch-x', model: 'nope', values: [1, 2, 3, 4] },
      { stream: 'bad\u0007id', values: [1, 2, 3, 4] },
      { stream: 'batch-x', values: 'hot' },
    ];
    // Bad events between good ones: their place in the batch must not matter.
    const batch = [good[0], bad[0], good[1], bad[1], bad[2], good[2], good[3], bad[3], bad[4], good[4]];
    const res = await stack.api('/v1/events', { method: 'POST', body: JSON.stringify(batch) });
    expect(res.status).toBe(207);
    const body = (await res.json()) as { accepted: number; refused: { index: number; code: string }[] };
    expect(body.accepted).toBe(5);
    expect(body.refused.map((r) => [r.index, r.code])).toEqual([
      [1, 'unknown_feature'],
      [3, 'wrong_dimension'],
      [4, 'unknown_model'],
      [7, 'stream_id_invalid'],
      [8, 'schema'],
    ]);
    // The answer came after Kafka's acknowledgement, so the topic holds exactly the good ones now.
    const onTopic = await readTopic(stack.env, stack.eventsTopic);
    expect(onTopic).toHaveLength(5);
    for (const m of onTopic) expect(m.partition, m.key).toBe(partitionForKey(m.key, stack.partitions));
    const byStream = (key: string): unknown[] => onTopic.filter((m) => m.key === key).map((m) => JSON.parse(m.value) as unknown);
    expect(byStream('batch-a')).toEqual(good.slice(0, 2));
    expect(byStream('batch-b')).toEqual(good.slice(2, 4));
    expect(byStream('batch-c')).toEqual(good.slice(4));
    // And a request with nothing good in it produces nothing at all.
    const none = await stack.api('/v1/events', { method: 'POST', body: JSON.stringify(bad) });
    expect(none.status).toBe(400);
    expect(await readTopic(stack.env, stack.eventsTopic)).toHaveLength(5);
  });

  it('streams a stream\'s forecasts live and serves its latest forecast from the state in Redis', async () => {
    const stream = 'live-seattle';
    const events = await seattleWeather(stream, 12);
    const live = await fetch(`${stack.baseUrl}/v1/streams/${stream}/live`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(live.status).toBe(200);
    expect(live.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reading = readEvents(live, (evs) => evs.filter((e) => e.event === 'forecast').length >= events.length);
    // One at a time, as a sensor would send them.
    for (const e of events) expect((await stack.api('/v1/events', { method: 'POST', body: JSON.stringify(e) })).status).toBe(202);
    const got = (await reading).filter((e) => e.event === 'forecast').map((e) => ({ id: e.id, message: JSON.parse(e.data) as ForecastMessage }));
    expect(got.map((g) => g.message.ts)).toEqual(events.map((e) => Date.parse(e.ts as string)));
    expect(got.every((g) => g.message.stream === stream && g.message.model.name === 'weather')).toBe(true);
    expect(got.map((g) => g.id)).toEqual(got.map((g) => `${g.message.source.topic}/${g.message.source.partition}/${g.message.source.offset}`));
    // Every event after the first scores the previous forecast.
    expect(got.slice(1).every((g) => g.message.error !== undefined)).toBe(true);

    // The worker saves its state after publishing: wait until the stored state has all the steps.
    const last = got[got.length - 1]!.message;
    const lastValues = events.at(-1)!.values as Record<string, number>;
    let latest: Record<string, unknown> = {};
    await until(async () => {
      const res = await stack.api(`/v1/streams/${stream}/forecast`);
      latest = res.status === 200 ? ((await res.json()) as Record<string, unknown>) : {};
      return latest.steps === events.length;
    }, 'the state to hold every event');
    expect(latest).toMatchObject({
      stream,
      model: { name: 'weather', version: '1' },
      ts: last.ts,
      forecast: last.forecast,
      // Stored as float32, as the state record keeps every float, and written at float32 precision like the forecasts.
      actual: { temp_max: float32Number(lastValues.temp_max!), temp_min: float32Number(lastValues.temp_min!) },
      source: { partition: last.source.partition, offset: Number(last.source.offset) },
    });
    expect(latest.savedAgoMs).toBeGreaterThanOrEqual(0);

    // A subscriber that connects now gets the remembered forecasts first, and after Last-Event-ID only the rest.
    const again = await fetch(`${stack.baseUrl}/v1/streams/${stream}/live`, { headers: { authorization: `Bearer ${TOKEN}`, 'last-event-id': got[8]!.id! } });
    const backlog = await readEvents(again, (evs) => evs.some((e) => e.event === 'ready'));
    const ready = JSON.parse(backlog.find((e) => e.event === 'ready')!.data) as { backlog: number };
    expect(ready.backlog).toBe(events.length - 9);
    expect(stack.gateway.hub.recent(10).map((r) => r.stream)).toContain(stream);
  });

  it('refuses a missing or wrong token on the real server and lists recent streams with the right one', async () => {
    const missing = await fetch(`${stack.baseUrl}/v1/streams`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ code: 'unauthorized' });
    const wrong = await fetch(`${stack.baseUrl}/v1/events`, { method: 'POST', body: '{}', headers: { authorization: 'Bearer not-the-token-at-all' } });
    expect(wrong.status).toBe(401);
    const recent = await stack.api('/v1/streams?q=live');
    expect(((await recent.json()) as { streams: { stream: string }[] }).streams.map((s) => s.stream)).toEqual(['live-seattle']);
  });

  it('exports its metrics without stream ids', async () => {
    const text = await (await fetch(`${stack.baseUrl}/metrics`)).text();
    expect(text).toMatch(/^streamcell_gateway_events_accepted_total \d+/m);
    expect(text).toMatch(/^streamcell_gateway_forecasts_consumed_total [1-9]\d*/m);
    expect(text).toMatch(/^streamcell_gateway_events_rejected_total\{code="unknown_feature"\} [1-9]/m);
    expect(text).not.toContain('live-seattle');
    expect(text).not.toContain('batch-a');
  });
});
