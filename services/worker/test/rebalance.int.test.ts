/**
 * Scaling on the real Kafka and Redis: one worker, then three, then one
 * again, during a steady feed of 24,000 events over 600 streams on 12
 * partitions. Workers join by starting and leave with SIGTERM, which drains
 * (finish the batch, save, commit, leave the group). Partitions move twice
 * between members mid-stream, and the end state is still exactly that of one
 * uninterrupted run, with a forecast per event and identical duplicates.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectProducer, lagging, produceAtPace, sleep, waitForGroupCaughtUp } from './support/kafka.ts';
import { interleaved, planStreams } from './support/streams.ts';
import { verifyAgainstReference } from './support/verify.ts';
import { WorkerProcess, workerEnv } from './support/worker-process.ts';
import { workerSuite } from './support/suite.ts';

const STREAMS = 600;
const EVENTS_PER_STREAM = 40;
const PARTITIONS = 12;
const EVENTS_PER_SECOND = 1_000;

describe('worker: scaling 1 -> 3 -> 1 during a run', () => {
  const suite = workerSuite();
  const all = suite.workers;

  it('keeps exactly-once state and a forecast per event while workers join and drain away', { timeout: 180_000 }, async () => {
    const { env } = suite;
    const { eventsTopic, forecastsTopic, group, dir, wiring } = await suite.wire('rebalance', PARTITIONS);
    const note = (what: string, extra: Record<string, unknown> = {}): void => {
      appendFileSync(join(dir, 'notes.jsonl'), `${JSON.stringify({ at: new Date().toISOString(), what, ...extra })}\n`);
    };
    const start = async (name: string): Promise<WorkerProcess> => {
      const w = await WorkerProcess.start(name, workerEnv(wiring), dir);
      all.push(w);
      note('started', { name, pid: w.pid });
      return w;
    };
    const drained = new Set<WorkerProcess>();
    const noUnexpectedExit = (): void => {
      const dead = all.filter((w) => w.exit !== null && !drained.has(w));
      if (dead.length > 0) throw new Error(`workers exited on their own: ${dead.map((w) => `${w.name} ${JSON.stringify(w.exit)} (${w.logPath})`).join('; ')}`);
    };
    const drain = async (w: WorkerProcess): Promise<void> => {
      drained.add(w);
      const exit = await w.stop();
      note('drained', { name: w.name, exit });
      expect(exit, `${w.name} drained and exited 0; see ${w.logPath}`).toEqual({ code: 0, signal: null });
      expect(w.lines.some((l) => l.msg === 'drain timed out; what was not committed will be redelivered'), `${w.name} finished its drain in time`).toBe(false);
    };

    const a = await start('worker-a');
    const plans = planStreams('sensor', STREAMS, EVENTS_PER_STREAM);
    const messages = interleaved(plans);
    let sent = 0;
    const producer = await connectProducer(env.kafka);
    let feedDone = false;
    const feed = produceAtPace(producer, eventsTopic, messages, {
      perSecond: EVENTS_PER_SECOND,
      chunk: 200,
      onProgress: (n) => {
        sent = n;
      },
    }).finally(() => {
      feedDone = true;
    });
    const until = async (fraction: number): Promise<void> => {
      while (sent < fraction * messages.length && !feedDone) await sleep(20);
      noUnexpectedExit();
    };
    const scaling = (async () => {
      await until(0.2);
      const [b, c] = await Promise.all([start('worker-b'), start('worker-c')]);
      note('scaled to 3', { sent, behind: await lagging(env.admin, group, eventsTopic) });
      await until(0.6);
      await Promise.all([drain(b), drain(c)]);
      note('scaled to 1', { sent, behind: await lagging(env.admin, group, eventsTopic) });
      return [b, c] as const;
    })();
    let joined: readonly [WorkerProcess, WorkerProcess];
    try {
      [, joined] = await Promise.all([feed, scaling]);
    } finally {
      await producer.disconnect();
    }
    note('feed done', { sent });
    await waitForGroupCaughtUp(env.admin, group, eventsTopic, { timeoutMs: 90_000, check: noUnexpectedExit });
    note('group caught up');

    // The scaling really moved partitions: b and c were given some, and a ended with all of them.
    for (const w of joined) {
      expect(w.lines.some((l) => l.msg === 'joined consumer group' && Object.values(l.assignments as Record<string, number[]>).flat().length > 0), `${w.name} was given partitions`).toBe(true);
    }
    expect(a.assignedPartitions(), 'worker-a holds every partition after the others left').toBe(PARTITIONS);
    await drain(a);

    const summary = await verifyAgainstReference(env, { events: eventsTopic, forecasts: forecastsTopic }, plans);
    note('verified', { ...summary });
    console.info(`rebalance test: ${summary.events} events, ${summary.forecasts} forecasts, ${summary.duplicatedOffsets} offsets forecast more than once; notes in ${dir}`);
  });
});
