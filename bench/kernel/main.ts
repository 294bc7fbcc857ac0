/**
 * Kernel benchmark: stream-steps per second of our recurrent stepper against
 * ONNX Runtime running the same weights, single-threaded, sequence length 1.
 *
 *   pnpm --filter @streamcell/bench kernel [--quick] [--seconds S]
 *     [--cells lstm,gru] [--hidden 32,64,128] [--batch 1,64,256,1024]
 *
 * Every config is checked first: one step with the same random inputs and
 * states through both sides must agree within 1e-4, or the run aborts. stdout
 * gets a table and, as its very last line, the JSON rows; the same JSON goes
 * to bench/results/kernel-<timestamp>.json. Progress goes to stderr.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { CELL_TYPES, createStepper, measureFmaPeak, REVECTORIZE_ENV, stateSize } from '@streamcell/rnn';
import type { CellType, RnnSpec } from '@streamcell/rnn';
import type { Rate, RunCalls, TimingPlan } from './measure.ts';
import { FULL_PLAN, QUICK_PLAN, measureCallRates } from './measure.ts';
import { createOrtStepper } from './ort-stepper.ts';
import { createRng, fillUniform, randomWeights } from './random.ts';
import type { TableRow } from './report.ts';
import { flopsPerStreamStep, formatJson, formatTable } from './report.ts';
import { assertSameStep } from './verify.ts';

interface Options {
  readonly cells: readonly CellType[];
  readonly hidden: readonly number[];
  readonly batch: readonly number[];
  readonly inputSize: number;
  readonly outputSize: number;
  readonly numLayers: number;
  readonly seed: number;
  readonly plan: TimingPlan;
  readonly quick: boolean;
  readonly callerBuffers: boolean;
}

const USAGE = `usage: node bench/kernel/main.ts [--quick] [--seconds S] [--cells lstm,gru]
  [--hidden 32,64,128] [--batch 1,64,256,1024] [--input 8] [--output 4] [--layers 1] [--seed 1]
  [--caller-buffers]
--quick (or STREAMCELL_BENCH_QUICK=1): ~0.1 s per side and config, for CI smoke runs.
--seconds: measured wall time per side and config (default 1).
--caller-buffers: time our stepper on arrays of its caller (copied in and out
  each call) instead of its own zero-copy buffers.`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: process.env.STREAMCELL_BENCH_QUICK === '1' },
      seconds: { type: 'string' },
      cells: { type: 'string', default: 'lstm,gru' },
      hidden: { type: 'string', default: '32,64,128' },
      batch: { type: 'string', default: '1,64,256,1024' },
      input: { type: 'string', default: '8' },
      output: { type: 'string', default: '4' },
      layers: { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      'caller-buffers': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const cells = values.cells.split(',').map((c) => {
    if (!(CELL_TYPES as readonly string[]).includes(c)) throw new Error(`unknown cell ${c}; one of ${CELL_TYPES.join(', ')}`);
    return c as CellType;
  });
  const base = values.quick ? QUICK_PLAN : FULL_PLAN;
  const plan = values.seconds === undefined ? base : { ...base, seconds: positive('seconds', values.seconds, false) };
  return {
    cells,
    hidden: integers('hidden', values.hidden),
    batch: integers('batch', values.batch),
    inputSize: positive('input', values.input),
    outputSize: positive('output', values.output),
    numLayers: positive('layers', values.layers),
    seed: positive('seed', values.seed),
    plan,
    quick: values.quick,
    callerBuffers: values['caller-buffers'],
  };
}

function integers(name: string, list: string): number[] {
  return list.split(',').map((s) => positive(name, s));
}

function positive(name: string, text: string, integer = true): number {
  const n = Number(text);
  if (!(n > 0) || (integer && !Number.isInteger(n))) throw new Error(`--${name}: expected a positive ${integer ? 'integer' : 'number'}, got ${text}`);
  return n;
}

/**
 * Benchmarks one model (cell and hidden size) at every batch size: checks
 * agreement with ORT, then times both sides. Returns one row per batch.
 */
async function benchModel(spec: RnnSpec, options: Options): Promise<{ rows: TableRow[]; kernel: string }> {
  const { plan } = options;
  const maxBatch = Math.max(...options.batch);
  const weights = randomWeights(spec, options.seed);
  const ours = createStepper(weights, { maxBatch });
  const kernel =
    `ours: WebAssembly SIMD, relaxed SIMD ${ours.relaxedSimd ? 'on' : 'off'}, ` +
    `fused multiply-add ${ours.fusedMultiplyAdd ? 'yes' : 'no'}, ` +
    `V8 revectorizer ${ours.revectorized ? 'on (256-bit AVX2)' : `off (128-bit; ${REVECTORIZE_ENV}=0 or no AVX2)`}, ` +
    (options.callerBuffers ? "caller's buffers (copied in and out)" : 'own buffers (zero-copy)');
  const theirs = await createOrtStepper(weights, maxBatch);
  const rowState = stateSize(spec);
  const rng = createRng(options.seed + 1);
  // One set of buffers per model, reused by every call of both sides. Ours are
  // by default the kernel's own views, the zero-copy path the worker uses;
  // --caller-buffers times the path that copies in and out.
  const { x, state, out } = options.callerBuffers
    ? {
        x: new Float32Array(maxBatch * spec.inputSize),
        state: new Float32Array(maxBatch * rowState),
        out: new Float32Array(maxBatch * spec.outputSize),
      }
    : ours.buffers;
  fillUniform(rng, x, 1);
  fillUniform(rng, state, 1);
  const ortState = theirs.allocateState();
  for (const buffer of [...ortState.h, ...ortState.c]) fillUniform(rng, buffer, 1);
  const ortOut = new Float32Array(maxBatch * spec.outputSize);
  const flops = flopsPerStreamStep(spec);
  const rows: TableRow[] = [];

  try {
    for (const batch of options.batch) {
      const agreement = await assertSameStep(ours, theirs, batch, rowState, rng);
      const runOurs: RunCalls = (calls) => {
        for (let i = 0; i < calls; i++) ours.step(batch, x, state, out);
        return Promise.resolve();
      };
      const runOrt: RunCalls = async (calls) => {
        for (let i = 0; i < calls; i++) await theirs.step(batch, x, ortState, ortOut);
      };
      const [oursRate, ortRate] = await measureCallRates([runOurs, runOrt], plan);
      const oursSteps = oursRate!.median * batch;
      const ortSteps = ortRate!.median * batch;
      const row: TableRow = {
        cell: spec.cell,
        hidden: spec.hiddenSize,
        batch,
        ours: oursSteps,
        ort: ortSteps,
        ratio: oursSteps / ortSteps,
        oursGflops: (oursSteps * flops) / 1e9,
        ortGflops: (ortSteps * flops) / 1e9,
        spread: Math.max(spreadOf(oursRate!), spreadOf(ortRate!)),
        oursPerCpuSecond: oursRate!.perCpuSecond * batch,
        ortPerCpuSecond: ortRate!.perCpuSecond * batch,
        onCpu: Math.min(oursRate!.onCpu, ortRate!.onCpu),
      };
      rows.push(row);
      console.error(
        `  ${spec.cell} hidden ${spec.hiddenSize} batch ${batch}: ours ${Math.round(oursSteps)} ` +
          `ort ${Math.round(ortSteps)} steps/s (x${row.ratio.toFixed(2)}), max |diff| vs ORT ` +
          `out ${agreement.out.toExponential(1)} state ${agreement.state.toExponential(1)}`,
      );
    }
  } finally {
    await theirs.release();
  }
  return { rows, kernel };
}

function spreadOf(rate: Rate): number {
  return (rate.max - rate.min) / rate.median;
}

/**
 * Short hash of the kernel package's sources, so a result can be matched to
 * the code it measured even when that code was not committed yet.
 */
function kernelSourceHash(): string {
  const srcDir = dirname(fileURLToPath(import.meta.resolve('@streamcell/rnn')));
  const files = readdirSync(srcDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .sort();
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update(readFileSync(join(srcDir, file)));
  return hash.digest('hex').slice(0, 12);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const { plan } = options;
  const started = new Date();
  // Other processes share the cores; the load average tells a reader how much.
  const loadBefore = loadavg()[0]!;
  console.error(
    `kernel bench: ${options.cells.join(',')} hidden ${options.hidden.join(',')} batch ${options.batch.join(',')}, ` +
      `${plan.seconds} s per side and config in ${plan.rounds} alternating rounds`,
  );

  const rows: TableRow[] = [];
  let kernel = '';
  for (const cell of options.cells) {
    for (const hiddenSize of options.hidden) {
      const { inputSize, outputSize, numLayers } = options;
      const model = await benchModel({ cell, inputSize, hiddenSize, numLayers, outputSize }, options);
      rows.push(...model.rows);
      kernel = model.kernel;
    }
  }

  // The ceiling the GFLOP/s columns are read against, measured the same way our kernel computes.
  const peak = measureFmaPeak(options.quick ? 0.05 : 0.3);

  const json = formatJson(rows);
  const resultsDir = new URL('../results/', import.meta.url);
  mkdirSync(resultsDir, { recursive: true });
  const file = new URL(`kernel-${started.toISOString().replace(/[:.]/g, '-')}.json`, resultsDir);
  writeFileSync(file, `${json}\n`);

  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  console.log(
    `Kernel bench ${started.toISOString()} | ${cpu}, ${cpus().length} cores | Node ${process.version} | ` +
      `single thread, input ${options.inputSize}, layers ${options.numLayers}, head ${options.outputSize}, ` +
      `${plan.seconds} s per side and config${options.quick ? ' (quick)' : ''}`,
  );
  console.log(`kernel sources: packages/rnn/src sha256 ${kernelSourceHash()}`);
  console.log(
    `${kernel} | ort: onnxruntime-node ${ort.env.versions.node ?? '?'}, 1 intra-op and 1 inter-op thread, ` +
      'sequential, all graph optimisations',
  );
  console.log(
    `peak of one thread, WebAssembly ${peak.relaxed ? 'relaxed_madd' : 'mul + add'} ${peak.revectorized ? 'revectorized to 256-bit' : '128-bit'}: ` +
      `${peak.gflops.toFixed(1)} GFLOP/s (a loop of independent multiply-adds, nothing else)`,
  );
  console.log(`1-min load average ${loadBefore.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end (${cpus().length} cores)`);
  console.log(
    `steps/s = stream-steps per second of wall time (batch x calls / s), median of ${plan.rounds} rounds; ` +
      'spread = (max - min) / median of the rounds, of the noisier side',
  );
  console.log(
    'on-cpu = process CPU time / wall time (lower side; ~100% when nothing else competed for the core); ' +
      'steps/cpu-s = the same steps per second of process CPU time (all threads), robust to time-sharing',
  );
  console.log(formatTable(rows));
  console.error(`wrote ${file.pathname}`);
  // Last line of stdout, for scripts.
  console.log(json);
}

main().catch((error: unknown) => {
  console.error('kernel bench FAILED:', error);
  process.exitCode = 1;
});
