/**
 * Redis goes away exactly at the save, on the real Kafka and Redis: the
 * worker reaches Redis through a proxy the test cuts the moment the first
 * compare-and-set script call arrives, so every time the batch's forecasts are
 * out and its state is not saved. During the outage nothing may be committed
 * that is not saved (the source must deliver the batch again); the worker
 * stays up, and once Redis is back it finishes on its own, to exactly the
 * uninterrupted end state, duplicate forecasts byte-identical.
 */
import { describe, expect, it } from 'vitest';
import { connectProducer, endOffsets, produceAtPace, waitForGroupCaughtUp } from './support/kafka.ts';
import { RedisProxy } from './support/redis-proxy.ts';
import { interleaved, planStreams } from './support/streams.ts';
import { expectCommittedIsSaved, verifyAgainstReference } from './support/verify.ts';
import { WorkerProcess, workerEnv } from './support/worker-process.ts';
import { workerSuite } from './support/suite.ts';

const STREAMS = 200;
const EVENTS_PER_STREAM = 20;
const PARTITIONS = 4;

describe('worker: Redis outage between publish and save', () => {
  const suite = workerSuite();
  const workers = suite.workers;
  let proxy: RedisProxy | undefined;
  suite.onCleanup(() => proxy?.close());

  it('commits nothing it could not save, and recovers by itself to the exact end state', { timeout: 120_000 }, async () => {
    const { env } = suite;
    proxy = await RedisProxy.start(env.redisUrl);
    const { eventsTopic, forecastsTopic, group, dir, wiring } = await suite.wire('redis-outage', PARTITIONS, { redisUrl: proxy.url });

    const worker = await WorkerProcess.start('worker', workerEnv(wiring), dir);
    workers.push(worker);
    proxy.cutOnNextScript();
    const plans = planStreams('buoy', STREAMS, EVENTS_PER_STREAM);
    const producer = await connectProducer(env.kafka);
    try {
      await produceAtPace(producer, eventsTopic, interleaved(plans), { perSecond: 1_000_000, chunk: 1_000 });
    } finally {
      await producer.disconnect();
    }

    // The first save met the cut; wait until the worker has given that batch back at least once.
    await worker.waitForLog((l) => l.msg === 'batch handler failed; the partition is read again from its last commit', 'a failed batch', 60_000);
    expect(proxy.isCut).toBe(true);
    expect(proxy.scriptsRefused).toBe(1);
    const forecastsOut = [...(await endOffsets(env.admin, forecastsTopic)).values()].reduce((n, h) => n + h, 0n);
    expect(forecastsOut, 'the cut came after the batch\'s forecasts were published').toBeGreaterThan(0n);
    expect(await expectCommittedIsSaved(env, group, eventsTopic, plans), 'no state reached Redis').toBe(0);
    expect(worker.exit, `the worker stays up through the outage; see ${worker.logPath}`).toBeNull();
    expect((await worker.get('/healthz')).status).toBe(200);

    await proxy.restore();
    await waitForGroupCaughtUp(env.admin, group, eventsTopic, {
      timeoutMs: 90_000,
      check: () => {
        if (worker.exit !== null) throw new Error(`worker exited (${JSON.stringify(worker.exit)}); see ${worker.logPath}`);
      },
    });
    expect(await worker.stop(), `worker drains and exits 0; see ${worker.logPath}`).toEqual({ code: 0, signal: null });
    const summary = await verifyAgainstReference(env, { events: eventsTopic, forecasts: forecastsTopic }, plans);
    expect(summary.duplicatedOffsets, 'the batch cut at its save was published again, identically').toBeGreaterThan(0);
  });
});
