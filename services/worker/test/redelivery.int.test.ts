/**
 * The two crash windows of the data path, made deterministic on the real
 * Kafka and Redis by rewinding the consumer group instead of hoping a kill
 * lands in them:
 *
 * - crash after the save, before the commit: every event is delivered again
 *   while the state already holds it. The replay steps nothing, publishes
 *   nothing and leaves every state byte-identical.
 * - crash after the publish, before the save: for half of the streams the
 *   state is gone while their forecasts are out. The replay recomputes
 *   byte-identical forecasts (same content, same idempotency key) and the
 *   same states, and touches nothing of the other streams.
 */
import { describe, expect, it } from 'vitest';
import { IDEMPOTENCY_HEADER } from '@streamcell/protocol';
import { stateKey } from '@streamcell/state';
import { connectProducer, produceAtPace, readTopic, waitForGroupCaughtUp, type ReadMessage } from './support/kafka.ts';
import { MODEL, interleaved, planStreams, readStates } from './support/streams.ts';
import { WorkerProcess, workerEnv } from './support/worker-process.ts';
import { workerSuite } from './support/suite.ts';

const STREAMS = 100;
const EVENTS_PER_STREAM = 20;
const PARTITIONS = 4;

function counterValue(metrics: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics) ?? new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(metrics);
  return m ? Number(m[1]) : 0;
}

describe('worker: redelivery after a crash between publish, save and commit', () => {
  const suite = workerSuite();
  const workers = suite.workers;

  it('skips what the state holds and republishes identical forecasts for what it lost', { timeout: 120_000 }, async () => {
    const { env } = suite;
    const { eventsTopic, forecastsTopic, group, dir, wiring } = await suite.wire('redelivery', PARTITIONS);
    const total = STREAMS * EVENTS_PER_STREAM;

    /** One worker over whatever the group has not committed; returns its /metrics as it finished. */
    const runOnce = async (name: string): Promise<string> => {
      const w = await WorkerProcess.start(name, workerEnv(wiring), dir);
      workers.push(w);
      await waitForGroupCaughtUp(env.admin, group, eventsTopic, {
        timeoutMs: 60_000,
        check: () => {
          if (w.exit !== null) throw new Error(`${name} exited on its own (${JSON.stringify(w.exit)}); see ${w.logPath}`);
        },
      });
      const metrics = (await w.get('/metrics')).text;
      // Leaving the group empty is what lets the test rewind it.
      expect(await w.stop(), `${name} drains and exits 0; see ${w.logPath}`).toEqual({ code: 0, signal: null });
      return metrics;
    };
    const byKey = (messages: readonly ReadMessage[]): Map<string, Buffer[]> => {
      const out = new Map<string, Buffer[]>();
      for (const m of messages) {
        const k = m.headers[IDEMPOTENCY_HEADER]!;
        out.set(k, [...(out.get(k) ?? []), m.value!]);
      }
      return out;
    };

    const plans = planStreams('probe', STREAMS, EVENTS_PER_STREAM);
    const keys = plans.map((p) => stateKey(env.keyPrefix, MODEL, p.stream));
    const producer = await connectProducer(env.kafka);
    try {
      await produceAtPace(producer, eventsTopic, interleaved(plans), { perSecond: 1_000_000, chunk: 500 });
    } finally {
      await producer.disconnect();
    }

    // The first pass: every event stepped once.
    const first = await runOnce('worker-1');
    expect(counterValue(first, 'streamcell_forecasts_total')).toBe(total);
    const states = await readStates(env.redis, keys);
    expect([...states.values()].every((v) => v !== null)).toBe(true);
    const published = byKey(await readTopic(env.kafka, env.admin, forecastsTopic));
    expect(published.size).toBe(total);

    // Saved but not committed: the whole topic comes again.
    await env.admin.resetOffsets({ groupId: group, topic: eventsTopic, earliest: true });
    const second = await runOnce('worker-2');
    expect(counterValue(second, 'streamcell_replayed_events_skipped_total'), 'every redelivered event skipped').toBe(total);
    expect(counterValue(second, 'streamcell_forecasts_total'), 'no forecast published again').toBe(0);
    expect(await readStates(env.redis, keys), 'states untouched by the replay').toEqual(states);
    expect((await readTopic(env.kafka, env.admin, forecastsTopic)).length).toBe(total);

    // Published but not saved, for every other stream: their states are gone, the events come again.
    const lost = keys.filter((_, i) => i % 2 === 0);
    await env.redis.del(...lost);
    await env.admin.resetOffsets({ groupId: group, topic: eventsTopic, earliest: true });
    const third = await runOnce('worker-3');
    const redone = lost.length * EVENTS_PER_STREAM;
    expect(counterValue(third, 'streamcell_forecasts_total'), 'the lost streams are stepped again').toBe(redone);
    expect(counterValue(third, 'streamcell_replayed_events_skipped_total'), 'the others are skipped').toBe(total - redone);
    expect(await readStates(env.redis, keys), 'the lost states are recomputed bit for bit').toEqual(states);
    const after = byKey(await readTopic(env.kafka, env.admin, forecastsTopic));
    expect(after.size).toBe(total);
    const copies = [...after.values()].map((list) => list.length);
    expect(copies.filter((n) => n === 2).length, 'one more copy for each redone event').toBe(redone);
    expect(copies.every((n) => n === 1 || n === 2)).toBe(true);
    const differing = [...after].filter(([k, list]) => list.some((v) => !v.equals(published.get(k)![0]!))).map(([k]) => k);
    expect(differing, 'republished forecasts are byte-identical to the first ones').toEqual([]);
  });
});
