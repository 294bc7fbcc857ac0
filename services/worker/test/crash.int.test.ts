/**
 * Crash safety on the real Kafka and Redis: three worker processes in one
 * group on a 12-partition topic, 50,000 events over 1,000 streams fed at a
 * steady pace, and five times during the feed a random worker is killed with
 * SIGKILL (no drain, no leave-group: the group notices only when its session
 * times out) and started again. Whatever the kills interrupted (a publish, a
 * save, a commit), the end state in Redis is exactly that of an uninterrupted
 * run, every event has a forecast, and forecasts published twice are
 * byte-identical.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectProducer, lagging, prng, produceAtPace, sleep, waitForGroupCaughtUp } from './support/kafka.ts';
import { interleaved, planStreams } from './support/streams.ts';
import { verifyAgainstReference } from './support/verify.ts';
import { WorkerProcess, workerEnv } from './support/worker-process.ts';
import { workerSuite } from './support/suite.ts';

const STREAMS = 1_000;
const EVENTS_PER_STREAM = 50;
const PARTITIONS = 12;
const WORKERS = 3;
const KILLS = 5;
const EVENTS_PER_SECOND = 1_000;

describe('worker: crash safety', () => {
  const suite = workerSuite();
  const all = suite.workers;

  it('ends with exactly the uninterrupted state and a forecast per event after 5 kill -9 of random workers', { timeout: 240_000 }, async () => {
    const { env } = suite;
    const { eventsTopic, forecastsTopic, group, dir, wiring } = await suite.wire('crash', PARTITIONS);
    const seed = Number(process.env.WORKER_INT_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    // What happened when, in test-artifacts/, next to the workers' logs.
    const note = (what: string, extra: Record<string, unknown> = {}): void => {
      appendFileSync(join(dir, 'notes.jsonl'), `${JSON.stringify({ at: new Date().toISOString(), what, ...extra })}\n`);
    };
    note('seed', { seed });

    let started = 0;
    const start = async (): Promise<WorkerProcess> => {
      const w = await WorkerProcess.start(`worker-${++started}`, workerEnv(wiring), dir);
      all.push(w);
      note('started', { name: w.name, pid: w.pid });
      return w;
    };
    const slots = await Promise.all(Array.from({ length: WORKERS }, () => start()));
    const killed = new Set<WorkerProcess>();
    // A worker that exits on its own (crash, failed start) fails the test: only our kills may stop one.
    const noUnexpectedExit = (): void => {
      const dead = all.filter((w) => w.exit !== null && !killed.has(w));
      if (dead.length > 0) throw new Error(`workers exited on their own: ${dead.map((w) => `${w.name} ${JSON.stringify(w.exit)} (${w.logPath})`).join('; ')}`);
    };

    const plans = planStreams('meter', STREAMS, EVENTS_PER_STREAM);
    const messages = interleaved(plans);
    let sent = 0;
    let feedDone = false;
    const producer = await connectProducer(env.kafka);
    const feed = produceAtPace(producer, eventsTopic, messages, {
      perSecond: EVENTS_PER_SECOND,
      chunk: 250,
      onProgress: (n) => {
        sent = n;
      },
    }).finally(() => {
      feedDone = true;
    });

    // Kills spread over the feed, each at a random point of its own slice of it.
    const chaos = (async () => {
      for (let k = 0; k < KILLS; k++) {
        const at = Math.floor(((k + 0.25 + 0.5 * random()) / (KILLS + 1)) * messages.length);
        // Not before the replacement of the previous victim has had time to work.
        const earliest = Date.now() + 1_500;
        while ((sent < at || Date.now() < earliest) && !feedDone) await sleep(20);
        noUnexpectedExit();
        // A worker that holds partitions, so that the kill can interrupt real work.
        const holding = slots.map((w, i) => (w.assignedPartitions() > 0 ? i : -1)).filter((i) => i >= 0);
        const candidates = holding.length > 0 ? holding : slots.map((_, i) => i);
        const i = candidates[Math.floor(random() * candidates.length)]!;
        const victim = slots[i]!;
        killed.add(victim);
        victim.kill('SIGKILL');
        await victim.exited;
        note('killed', { name: victim.name, pid: victim.pid, partitions: victim.assignedPartitions(), sent, behind: await lagging(env.admin, group, eventsTopic) });
        slots[i] = await start();
      }
    })();
    try {
      await Promise.all([feed, chaos]);
    } finally {
      await producer.disconnect();
    }
    note('feed done', { sent });
    await waitForGroupCaughtUp(env.admin, group, eventsTopic, { timeoutMs: 150_000, check: noUnexpectedExit });
    note('group caught up');
    noUnexpectedExit();
    expect(killed.size).toBe(KILLS);

    // Drain the survivors: everything is committed, so they only leave the group.
    const exits = await Promise.all(slots.map((w) => w.stop()));
    expect(exits, 'surviving workers drained and exited 0').toEqual(slots.map(() => ({ code: 0, signal: null })));

    const summary = await verifyAgainstReference(env, { events: eventsTopic, forecasts: forecastsTopic }, plans);
    note('verified', { ...summary });
    console.info(`crash test (seed ${seed}): ${summary.events} events, ${summary.forecasts} forecasts, ${summary.duplicatedOffsets} offsets forecast more than once; notes in ${dir}`);
  });
});
