/**
 * Lifecycle on the real Kafka and Redis: SIGTERM while a worker works through
 * a backlog. It drains (finishes the batch in hand, saves, commits, leaves the
 * group) and exits 0 without its drain timing out; nothing is committed past
 * what is saved (every event below a partition's commit is in its stream's
 * state, and that state is exactly predict --state's over the events it
 * holds); and a new worker finishes the run to exactly the uninterrupted end
 * state. The backlog also makes partition batches whose forecasts exceed
 * Kafka's 1 MiB message limit, which must still get out.
 */
import { describe, expect, it } from 'vitest';
import { committedOffsets, connectProducer, lagging, produceAtPace, sleep, waitForGroupCaughtUp } from './support/kafka.ts';
import { interleaved, planStreams } from './support/streams.ts';
import { expectCommittedIsSaved, verifyAgainstReference } from './support/verify.ts';
import { WorkerProcess, workerEnv } from './support/worker-process.ts';
import { workerSuite } from './support/suite.ts';

const STREAMS = 600;
const EVENTS_PER_STREAM = 50;
const PARTITIONS = 6;
const DRAIN_TIMEOUT_MS = 10_000;

describe('worker: SIGTERM while consuming', () => {
  const suite = workerSuite();
  const workers = suite.workers;

  it('drains to exit 0, commits nothing it has not saved, and a new worker completes the run exactly', { timeout: 150_000 }, async () => {
    const { env } = suite;
    const { eventsTopic, forecastsTopic, group, dir, wiring } = await suite.wire('lifecycle', PARTITIONS);
    const env1 = workerEnv(wiring, { DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS) });

    // A backlog first: 30,000 events, 5,000 per partition, so the worker has work in hand when the signal comes.
    const plans = planStreams('gauge', STREAMS, EVENTS_PER_STREAM);
    const producer = await connectProducer(env.kafka);
    try {
      await produceAtPace(producer, eventsTopic, interleaved(plans), { perSecond: 1_000_000, chunk: 1_000 });
    } finally {
      await producer.disconnect();
    }

    const first = await WorkerProcess.start('worker-1', env1, dir);
    workers.push(first);
    // The signal goes out as soon as the first commit shows: the worker is mid-backlog.
    for (;;) {
      if (first.exit !== null) throw new Error(`worker-1 exited on its own (${JSON.stringify(first.exit)}); see ${first.logPath}`);
      const commits = await committedOffsets(env.admin, group, eventsTopic);
      if ([...commits.values()].some((c) => c > 0n)) break;
      await sleep(20);
    }
    first.kill('SIGTERM');
    const behindAtSignal = await lagging(env.admin, group, eventsTopic);
    expect(behindAtSignal.length, 'the signal came while there was work left (otherwise this test proves nothing)').toBeGreaterThan(0);

    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([
      first.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`worker-1 still running ${DRAIN_TIMEOUT_MS + 10_000} ms after SIGTERM; see ${first.logPath}`)), DRAIN_TIMEOUT_MS + 10_000);
      }),
    ]).finally(() => clearTimeout(timer));
    expect(exit, `worker-1 exits 0 after draining; see ${first.logPath}`).toEqual({ code: 0, signal: null });
    expect(first.lines.some((l) => l.msg === 'drain timed out; what was not committed will be redelivered'), 'the drain finished within DRAIN_TIMEOUT_MS').toBe(false);
    expect(first.lines.some((l) => l.msg === 'stopped')).toBe(true);

    // Nothing committed past what was saved.
    const saved = await expectCommittedIsSaved(env, group, eventsTopic, plans);
    expect(saved, 'the first worker saved some streams before the signal').toBeGreaterThan(0);

    // A new worker takes over from the commits and ends exactly where an uninterrupted run ends.
    const second = await WorkerProcess.start('worker-2', workerEnv(wiring), dir);
    workers.push(second);
    await waitForGroupCaughtUp(env.admin, group, eventsTopic, {
      timeoutMs: 90_000,
      check: () => {
        if (second.exit !== null) throw new Error(`worker-2 exited on its own (${JSON.stringify(second.exit)}); see ${second.logPath}`);
      },
    });
    expect(await second.stop(), `worker-2 drains and exits 0; see ${second.logPath}`).toEqual({ code: 0, signal: null });
    const summary = await verifyAgainstReference(env, { events: eventsTopic, forecasts: forecastsTopic }, plans);
    console.info(`lifecycle test: ${behindAtSignal.length} partitions behind at SIGTERM, ${saved} streams saved by then; ${summary.forecasts} forecasts, ${summary.duplicatedOffsets} offsets forecast more than once; logs in ${dir}`);
  });
});
