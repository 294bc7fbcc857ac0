import { performance } from 'node:perf_hooks';

/** Runs `calls` steps back to back; one await per chunk keeps sync kernels sync. */
export type RunCalls = (calls: number) => Promise<void>;

/** How long to measure; all times in seconds. */
export interface TimingPlan {
  /** Wall time per side and config, split evenly over `rounds`. */
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** Rounds alternate between the sides so that a disturbance hits both. */
  readonly rounds: number;
  /** Calls are timed in chunks of at least this long, so the clock read is noise. */
  readonly chunkSeconds: number;
}

/** Default plan: ~1 s per side per config. */
export const FULL_PLAN: TimingPlan = { seconds: 1, warmupSeconds: 0.25, rounds: 5, chunkSeconds: 0.005 };

/** For CI smoke runs: proves the pipeline, numbers are rough. */
export const QUICK_PLAN: TimingPlan = { seconds: 0.1, warmupSeconds: 0.03, rounds: 3, chunkSeconds: 0.002 };

/** Calls per second of one side: the median round, plus the spread of rounds. */
export interface Rate {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /**
   * Calls per second of process CPU time (all threads), median round. Unlike
   * wall time it barely moves when other processes share the cores, so it
   * tells what one dedicated core would do.
   */
  readonly perCpuSecond: number;
  /** CPU time / wall time of the median round: near 1 when nothing else competed. */
  readonly onCpu: number;
}

interface Round {
  readonly rate: number;
  readonly perCpuSecond: number;
  readonly onCpu: number;
}

interface Side {
  readonly run: RunCalls;
  chunk: number;
  readonly rounds: Round[];
}

/**
 * Measures calls per second of several sides under the same plan: each side
 * is warmed up and its chunk size calibrated, then rounds alternate between
 * sides (A B A B ...), each round running whole chunks for
 * seconds / rounds. The median round is reported, which shrugs off a round
 * that another process disturbed.
 */
export async function measureCallRates(runs: readonly RunCalls[], plan: TimingPlan): Promise<Rate[]> {
  const sides: Side[] = [];
  for (const run of runs) sides.push({ run, chunk: await calibrate(run, plan), rounds: [] });
  const roundSeconds = plan.seconds / plan.rounds;
  for (let round = 0; round < plan.rounds; round++) {
    for (const side of sides) {
      let calls = 0;
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      let elapsed = 0;
      do {
        await side.run(side.chunk);
        calls += side.chunk;
        elapsed = (performance.now() - start) / 1000;
      } while (elapsed < roundSeconds);
      const cpu = process.cpuUsage(cpuStart);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      side.rounds.push({ rate: calls / elapsed, perCpuSecond: calls / cpuSeconds, onCpu: cpuSeconds / elapsed });
    }
  }
  return sides.map(({ rounds }) => {
    const sorted = [...rounds].sort((a, b) => a.rate - b.rate);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    const byCpu = rounds.map((r) => r.perCpuSecond).sort((a, b) => a - b);
    return {
      median: median.rate,
      min: sorted[0]!.rate,
      max: sorted.at(-1)!.rate,
      perCpuSecond: byCpu[Math.floor(byCpu.length / 2)]!,
      onCpu: median.onCpu,
    };
  });
}

/**
 * Doubles the chunk until one takes chunkSeconds (this also warms up the JIT
 * and ORT's allocator), then keeps running chunks until warmupSeconds passed.
 */
async function calibrate(run: RunCalls, plan: TimingPlan): Promise<number> {
  const start = performance.now();
  let chunk = 1;
  for (;;) {
    const t0 = performance.now();
    await run(chunk);
    const seconds = (performance.now() - t0) / 1000;
    if (seconds >= plan.chunkSeconds) break;
    chunk *= 2;
  }
  while ((performance.now() - start) / 1000 < plan.warmupSeconds) await run(chunk);
  return chunk;
}
