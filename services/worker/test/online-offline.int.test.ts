/**
 * Online equals offline, on the real Kafka and Redis: 200 streams of 50 events
 * through one worker process. Every stream's forecasts, read back from the
 * forecasts topic, are exactly (the same float32 values, written the same way) what `streamcell predict`
 * prints for its sequence, in order and once each; and the state the worker
 * left in Redis holds exactly predict --state's final h and c. The worker
 * runs every batch's steps in its step thread here, consumes with two
 * Kafka consumers (KAFKA_CONSUMERS=2), each with half the partitions, and
 * handles the batches that arrive together in groups.
 */
import { describe, expect, it } from 'vitest';
import type { ForecastMessage } from '@streamcell/protocol';
import { decodeRecord, fnv1a32, stateKey } from '@streamcell/state';
import { connectProducer, produceAtPace, readTopic, waitForGroupCaughtUp } from './support/kafka.ts';
import { MODEL, flatForecast, interleaved, loadWeatherModel, offlinePredict, planStreams, readStates, sameBits } from './support/streams.ts';
import { WorkerProcess, workerEnv } from './support/worker-process.ts';
import { workerSuite } from './support/suite.ts';

const STREAMS = 200;
const EVENTS_PER_STREAM = 50;
const PARTITIONS = 6;

describe('worker: online forecasts and state equal streamcell predict', () => {
  const suite = workerSuite();
  const workers = suite.workers;

  it('publishes for 200 streams x 50 events exactly what predict prints, and saves predict --state\'s final h and c', { timeout: 150_000 }, async () => {
    const { env } = suite;
    const { eventsTopic, forecastsTopic, group, dir, wiring } = await suite.wire('online-offline', PARTITIONS);

    const plans = planStreams('station', STREAMS, EVENTS_PER_STREAM);
    // Every batch's steps in the step thread, however small (the events arrive paced, in batches of a few).
    const worker = await WorkerProcess.start('worker-1', workerEnv(wiring, { STEP_THREAD_MIN_EVENTS: '1', KAFKA_CONSUMERS: '2' }), dir);
    workers.push(worker);

    const producer = await connectProducer(env.kafka);
    try {
      await produceAtPace(producer, eventsTopic, interleaved(plans), { perSecond: 5_000, chunk: 200 });
    } finally {
      await producer.disconnect();
    }
    await waitForGroupCaughtUp(env.admin, group, eventsTopic, {
      timeoutMs: 90_000,
      check: () => {
        if (worker.exit !== null) throw new Error(`worker exited early (${JSON.stringify(worker.exit)}); see ${worker.logPath}`);
      },
    });
    // The one process is two members of the group, with three partitions each.
    const [described] = (await env.admin.describeGroups([group])).groups;
    expect(described?.members.map((m) => m.clientId).sort()).toEqual([expect.stringMatching(/-1$/), expect.stringMatching(/-2$/)]);
    const metrics = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
    const jobs = (thread: string): number => Number(new RegExp(`^streamcell_step_jobs_total\\{thread="${thread}"\\} (\\S+)$`, 'm').exec(metrics)?.[1] ?? 0);
    expect(jobs('step')).toBeGreaterThan(0);
    expect(jobs('worker')).toBe(0);
    // The partitions' batches of a fetch went through in groups (one load, one send, one save for several).
    const series = (name: string): number => Number(new RegExp(`^streamcell_batch_group_batches_${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? 0);
    expect(series('count')).toBeGreaterThan(0);
    expect(series('sum')).toBeGreaterThan(series('count'));
    // Forecasts are published before the commit that was just seen, so they are all there.
    const exit = await worker.stop();
    expect(exit, `worker drained and exited 0; see ${worker.logPath}`).toEqual({ code: 0, signal: null });

    const [events, published, dlq] = await Promise.all([readTopic(env.kafka, env.admin, eventsTopic), readTopic(env.kafka, env.admin, forecastsTopic), readTopic(env.kafka, env.admin, `${eventsTopic}.dlq`)]);
    expect(events).toHaveLength(STREAMS * EVENTS_PER_STREAM);
    expect(dlq).toEqual([]);
    expect(published).toHaveLength(STREAMS * EVENTS_PER_STREAM);

    // Per stream, in topic order (one stream = one key = one partition, published in order).
    const sources = new Map<string, string[]>();
    for (const e of events) {
      const s = e.key!.toString();
      sources.set(s, [...(sources.get(s) ?? []), `${e.topic}/${e.partition}/${e.offset}`]);
    }
    const online = new Map<string, ForecastMessage[]>();
    for (const m of published) {
      const f = JSON.parse(m.value!.toString()) as ForecastMessage;
      expect(m.key!.toString()).toBe(f.stream);
      online.set(f.stream, [...(online.get(f.stream) ?? []), f]);
    }
    expect(online.size).toBe(STREAMS);

    const model = await loadWeatherModel();
    const keys = plans.map((p) => stateKey(env.keyPrefix, MODEL, p.stream));
    const states = await readStates(env.redis, keys);
    for (const [i, plan] of plans.entries()) {
      const offline = await offlinePredict(model, plan.rows);
      const mine = online.get(plan.stream) ?? [];
      // toEqual on numbers is exact: both sides write each float32 as the shortest decimal that reads back to it.
      expect(mine.map((f) => flatForecast(f.forecast)), `forecasts of ${plan.stream}`).toEqual(offline.forecasts);
      expect(mine.map((f) => `${f.source.topic}/${f.source.partition}/${f.source.offset}`), `sources of ${plan.stream}`).toEqual(sources.get(plan.stream));
      expect(mine.map((f) => f.ts)).toEqual(plan.ts);
      expect(mine.every((f) => f.model.name === MODEL && f.model.version === '1')).toBe(true);
      expect(mine.map((f) => f.error !== undefined)).toEqual(plan.rows.map((_, k) => k > 0));

      const raw = states.get(keys[i]!);
      expect(raw, `state of ${plan.stream} in Redis`).toBeInstanceOf(Buffer);
      const rec = decodeRecord(raw!);
      if (typeof rec === 'string') throw new Error(`state of ${plan.stream} does not decode: ${rec}`);
      expect(sameBits(rec.state, offline.finalState), `state of ${plan.stream} equals predict --state's last h and c bitwise`).toBe(true);
      const last = mine.at(-1)!.source;
      expect({ steps: rec.steps, topicHash: rec.topicHash, partition: rec.partition, offset: rec.offset, lastEventTs: rec.lastEventTs }).toEqual({
        steps: EVENTS_PER_STREAM,
        topicHash: fnv1a32(eventsTopic),
        partition: last.partition,
        offset: Number(last.offset),
        lastEventTs: plan.ts.at(-1),
      });
    }
  });
});
