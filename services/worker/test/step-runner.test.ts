import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadModel } from '@streamcell/model';
import { IDEMPOTENCY_HEADER, idempotencyKey } from '@streamcell/protocol';
import { murmur2, unpackMessages, type OutboundMessage } from '@streamcell/streams';
import { createLogger } from '@streamcell/telemetry';
import { END, RESET, stepModel, type StepJob, type StepModel } from '../src/step-job.ts';
import { StepRunner, type StepResult, type StepRunnerOptions } from '../src/step-runner.ts';
import { REPO_ROOT } from './helpers.ts';

const log = createLogger({ name: 'test', level: 'silent' });
const runners: StepRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.close()));
});

function runner(thread: boolean, minThreadEvents = 1): StepRunner {
  return tracked({ thread, minThreadEvents }).r;
}

/** A runner (closed after the test) and the list of where its jobs ran. */
function tracked(options: Partial<StepRunnerOptions> = {}): { r: StepRunner; where: string[] } {
  const where: string[] = [];
  const r = new StepRunner({ thread: true, minThreadEvents: 1, log, onJob: (w) => where.push(w), ...options });
  runners.push(r);
  return { r, where };
}

/** A model of the repository, with a small kernel batch so that waves are cut into several kernel calls. */
async function model(name: string): Promise<StepModel> {
  const { manifest, weights } = await loadModel(join(REPO_ROOT, 'models', name, '1'));
  return stepModel(manifest, weights, 8);
}

/** A random job: `n` streams with states from earlier steps, up to `maxEvents` events each, some resetting or ending. */
function randomJob(m: StepModel, seed: number, n: number, maxEvents: number): StepJob {
  let x = seed;
  const rand = (): number => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const { inputSize: D, targets } = m.manifest;
  const T = targets.length;
  const counts = Array.from({ length: n }, () => 1 + Math.floor(rand() * maxEvents));
  const stream: number[] = [];
  const waveEnds: number[] = [];
  for (let k = 0; k < Math.max(...counts); k++) {
    for (let s = 0; s < n; s++) if (counts[s]! > k) stream.push(s);
    waveEnds.push(stream.length);
  }
  const events = stream.length;
  return {
    sources: [{ topic: 'events', partition: 3 }, { topic: 'events', partition: 7 }, { topic: 'other', partition: 3 }],
    streams: Array.from({ length: n }, (_, s) => `stream-${seed}-${s}`),
    states: Float32Array.from({ length: n * m.stateSize }, () => rand() * 2 - 1),
    histories: Float32Array.from({ length: n * m.layout.size }, () => rand() * 10),
    known: Int32Array.from({ length: n }, () => Math.floor(rand() * (m.manifest.horizon + 1))),
    stream: Int32Array.from(stream),
    source: Int32Array.from(stream, (s) => s % 3),
    flags: Uint8Array.from({ length: events }, () => (rand() < 0.05 ? RESET : 0) | (rand() < 0.05 ? END : 0)),
    x: Float32Array.from({ length: events * D }, () => rand() * 4 - 2),
    actual: Float64Array.from({ length: events * T }, () => rand() * 30),
    ts: Float64Array.from({ length: events }, (_, e) => 1_700_000_000_000 + e),
    offsets: Array.from({ length: events }, (_, e) => String(1000 + e)),
    waveEnds: Int32Array.from(waveEnds),
  };
}

/** A copy whose arrays own their buffers (a job handed to the thread is detached). */
function copyJob(job: StepJob): StepJob {
  return { ...job, states: job.states.slice(), histories: job.histories.slice(), known: job.known.slice(), stream: job.stream.slice(), source: job.source.slice(), flags: job.flags.slice(), x: job.x.slice(), actual: job.actual.slice(), ts: job.ts.slice(), waveEnds: job.waveEnds.slice() };
}

/** A result's forecast messages, unpacked. */
function messagesOf(r: StepResult): OutboundMessage[] {
  return unpackMessages(r.forecasts);
}

function comparable(r: StepResult): unknown {
  return { states: [...r.states], histories: [...r.histories], known: [...r.known], packed: [...r.forecasts.bytes], bounds: [...r.forecasts.bounds], hashes: [...r.forecasts.keyHashes], sums: { model: [...r.sums.model], naive: [...r.sums.naive], count: [...r.sums.count] } };
}

describe('StepRunner', () => {
  it('gives the same states, histories, messages and error sums in a step thread as in this one, for several models at once', async () => {
    const models = [await model('weather'), await model('stock')];
    const inline = runner(false);
    const threaded = runner(true);
    for (let seed = 1; seed <= 6; seed++) {
      const m = models[seed % 2]!;
      const job = randomJob(m, seed, 5 + seed * 7, 6);
      const expected = await inline.run(m, copyJob(job));
      expect(messagesOf(expected)).toHaveLength(job.stream.length);
      const got = await threaded.run(m, copyJob(job));
      expect(comparable(got)).toEqual(comparable(expected));
    }
    // Jobs of both models in flight together.
    const jobs = models.map((m, i) => randomJob(m, 100 + i, 40, 4));
    const results = await Promise.all(jobs.map((job, i) => threaded.run(models[i]!, copyJob(job))));
    for (const [i, job] of jobs.entries()) expect(comparable(results[i]!)).toEqual(comparable(await inline.run(models[i]!, copyJob(job))));
    expect(threaded.threadJobs).toBe(8);
    expect(inline.threadJobs).toBe(0);
  });

  it('packs the messages back to back in one buffer of the job, which grows for long stream ids and keeps earlier messages intact', async () => {
    const m = await model('weather');
    const job = randomJob(m, 11, 30, 3);
    // Every fifth stream id is long enough that its messages need more room than a job first sets aside.
    const streams = job.streams.map((s, i) => (i % 5 === 0 ? `${s}-${'é😀'.repeat(400 + i)}` : s));
    const withLong = { ...job, streams };
    for (const thread of [false, true]) {
      const r = await runner(thread).run(m, copyJob(withLong));
      const { bytes, bounds, keyHashes } = r.forecasts;
      const messages = messagesOf(r);
      expect(messages).toHaveLength(job.stream.length);
      // The bytes end where the last message does, and each array owns its ArrayBuffer from its start (a step thread transfers them).
      expect(bytes.length).toBe(bounds.at(-1));
      for (const a of [bytes, bounds, keyHashes]) expect(a.byteOffset).toBe(0);
      expect([bounds.byteLength, keyHashes.byteLength]).toEqual([bounds.buffer.byteLength, keyHashes.buffer.byteLength]);
      for (let e = 0; e < job.stream.length; e++) {
        const stream = streams[job.stream[e]!]!;
        const m = messages[e]!;
        expect(m.key).toBe(stream);
        expect(keyHashes[e]).toBe(murmur2(Buffer.from(stream, 'utf8')));
        const msg = JSON.parse((m.value as Buffer).toString('utf8')) as { stream: string; ts: number; source: { topic: string; partition: number; offset: string } };
        expect([msg.stream, msg.ts, msg.source.offset]).toEqual([stream, job.ts[e], job.offsets[e]]);
        expect(m.headers).toEqual({ [IDEMPOTENCY_HEADER]: idempotencyKey(msg.source) });
      }
    }
  });

  it('zeroes a stream on reset before its step and after its last step on end', async () => {
    const m = await model('weather');
    const job = randomJob(m, 7, 3, 1);
    job.flags.set([RESET, END, 0]);
    const before = job.states.slice();
    const r = await runner(false).run(m, job);
    const S = m.stateSize;
    // Stream 1 ended: its state and history are zero; stream 2 stepped on from its own state.
    expect([...r.states.subarray(S, 2 * S)].every((v) => v === 0)).toBe(true);
    expect([...r.histories.subarray(m.layout.size, 2 * m.layout.size)].every((v) => v === 0)).toBe(true);
    expect(r.known[1]).toBe(0);
    // Stream 0 reset, then stepped once: one known event, no one-step error in its message.
    expect(r.known[0]).toBe(1);
    expect(JSON.parse(String(messagesOf(r)[0]!.value)) as object).not.toHaveProperty('error');
    // Stream 0's result does not depend on the state it had: same as from zeros.
    const fromZero = copyJob(job);
    fromZero.states.fill(0, 0, S);
    const again = await runner(false).run(m, fromZero);
    expect([...again.states.subarray(0, S)]).toEqual([...r.states.subarray(0, S)]);
    expect([...r.states.subarray(2 * S)]).not.toEqual([...before.subarray(2 * S)]);
  });

  it('keeps small jobs in this thread and sends large ones to the step thread', async () => {
    const m = await model('weather');
    const r = runner(true, 50);
    await r.run(m, randomJob(m, 1, 10, 1));
    expect(r.threadJobs).toBe(0);
    await r.run(m, randomJob(m, 2, 60, 1));
    expect(r.threadJobs).toBe(1);
  });

  it('rejects a job the thread cannot run, and runs the next one', async () => {
    const m = await model('weather');
    const r = runner(true);
    const bad = randomJob(m, 3, 4, 2);
    await expect(r.run(m, { ...bad, known: new Int32Array(1) })).rejects.toThrow(/do not match/);
    const good = randomJob(m, 4, 4, 2);
    expect(comparable(await r.run(m, copyJob(good)))).toEqual(comparable(await runner(false).run(m, copyJob(good))));
  });

  it('runs in this thread the jobs of a model the step thread cannot build', async () => {
    const m = await model('weather');
    // The thread builds its own kernel from the weights: these it refuses; this thread's kernel is fine.
    const unbuildable: StepModel = { ...m, weights: { ...m.weights, headBias: new Float32Array(0) } };
    const { r, where: jobs } = tracked();
    const job = randomJob(m, 8, 6, 3);
    const got = await r.run(unbuildable, copyJob(job));
    expect(comparable(got)).toEqual(comparable(await runner(false).run(m, copyJob(job))));
    await r.run(unbuildable, copyJob(job));
    // Other models still go to the thread.
    await r.run(m, copyJob(job));
    expect(jobs).toEqual(['worker', 'worker', 'step']);
  });

  it('refuses job arrays that do not own their buffers, before sending anything', async () => {
    const m = await model('weather');
    const r = runner(true);
    const job = copyJob(randomJob(m, 9, 4, 2));
    const shared = new Float32Array(job.states.length + 4);
    await expect(r.run(m, { ...job, states: shared.subarray(4) })).rejects.toThrow(/own their whole ArrayBuffer/);
    expect(job.x.byteLength).toBeGreaterThan(0);
    expect(r.threadJobs).toBe(0);
  });

  it('fails the jobs of a thread that dies, starts another for the next job, and after three deaths in a row runs every job in place', async () => {
    const m = await model('weather');
    const { r, where } = tracked({ threadModule: new URL('./support/dying-step-thread.ts', import.meta.url) });
    for (let i = 0; i < 3; i++) await expect(r.run(m, randomJob(m, 20 + i, 4, 2))).rejects.toThrow(/exited with code 3/);
    const job = randomJob(m, 30, 4, 2);
    expect(comparable(await r.run(m, copyJob(job)))).toEqual(comparable(await runner(false).run(m, copyJob(job))));
    expect(where).toEqual(['step', 'step', 'step', 'worker']);
    expect(r.threadStarts).toBe(3);
  });

  it('runs jobs in place when the thread cannot start, and stops trying after three attempts', async () => {
    const m = await model('weather');
    const { r, where } = tracked({ threadModule: new URL('./support/broken-step-thread.ts', import.meta.url) });
    const job = randomJob(m, 40, 4, 2);
    const expected = comparable(await runner(false).run(m, copyJob(job)));
    for (let i = 0; i < 4; i++) expect(comparable(await r.run(m, copyJob(job)))).toEqual(expected);
    expect(where).toEqual(['worker', 'worker', 'worker', 'worker']);
    expect(r.threadJobs).toBe(0);
    expect(r.threadStarts).toBe(3);
  });

  it('fails the jobs in flight when closed, and runs later jobs in this thread', async () => {
    const m = await model('weather');
    const r = runner(true);
    // The thread holds the model after a first job; the second is then in the thread when it closes.
    await r.run(m, randomJob(m, 4, 2, 1));
    const inFlight = expect(r.run(m, randomJob(m, 5, 200, 8))).rejects.toThrow(/closed/);
    // Until it is posted (microtasks only: the thread's answer, a message event, cannot have come in yet).
    while (r.threadJobs < 2) await Promise.resolve();
    await r.close();
    await inFlight;
    const after = await r.run(m, randomJob(m, 6, 3, 1));
    expect(messagesOf(after)).toHaveLength(3);
    expect(r.threadJobs).toBe(2);
  });
});
