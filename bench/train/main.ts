/**
 * Training benchmark: seconds per epoch of streamcell's trainer against
 * PyTorch (Debian's python3-torch, one thread) on the same job.
 *
 *   pnpm bench:train [--epochs N] [--batch-size N] [--python /usr/bin/python3]
 *
 * The job: the sensor demo data (4 motes, humidity and temperature, the
 * training part of `streamcell train`'s default split without validation:
 * the first 80% of each mote's rows, prepared by the same code as the CLI),
 * a 1-layer LSTM of hidden 32 forecasting 3 steps of both targets (delta
 * mode), TBPTT window 32, batch 32 lanes, MSE, Adam lr 3e-3, clip 1. Both
 * sides start from the same initial weights (written for PyTorch to load),
 * cut the series into the same lanes (bench/train/torch_train.py reimplements
 * `makeLanes`; this script refuses to report if the lanes differ) and run the
 * same window updates, so their first-epoch losses must agree closely; that
 * is checked too. Seconds per epoch: the median over all epochs but the
 * first (warm-up: JIT, allocator), for both; the median because the machine
 * is shared and a stray busy moment should not decide the figure.
 *
 * stdout: a table, then as its very last line the JSON
 * {"ours_s_per_epoch","torch_s_per_epoch","ratio"} with ratio = torch / ours.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSequences, fitScaler, servingScaler, splitSeries } from '@streamcell/cli';
import { readDemoDataset } from '@streamcell/datasets';
import { initWeights, makeLanes, seededRandom, train } from '@streamcell/rnn';
import type { RnnSpec, RnnWeights, TrainSequence } from '@streamcell/rnn';

const { values: args } = parseArgs({
  options: {
    epochs: { type: 'string', default: '10' },
    'batch-size': { type: 'string', default: '32' },
    python: { type: 'string', default: '/usr/bin/python3' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log('usage: pnpm bench:train [--epochs N] [--batch-size N] [--python PATH]');
  process.exit(0);
}
const epochs = Number(args.epochs);
const batchSize = Number(args['batch-size']);
if (!Number.isInteger(epochs) || epochs < 2) throw new Error(`--epochs must be an integer >= 2 (the first is warm-up), got ${args.epochs}`);
if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`--batch-size must be a positive integer, got ${args['batch-size']}`);

const HORIZON = 3;
const WINDOW = 32;
const HIDDEN = 32;
const LR = 0.003;
const CLIP = 1;
const SEED = 1;

interface TorchResult {
  torch: string;
  threads: number;
  lanes: [number, number, number][];
  batches: number;
  epoch_seconds: number[];
  losses: number[];
}

/** The weights in PyTorch's state_dict order, as one float32 buffer. */
function stateDictFloats(w: RnnWeights): Float32Array {
  const parts = [...w.layers.flatMap((l) => [l.weightIh, l.weightHh, l.biasIh, l.biasHh]), w.headWeight, w.headBias];
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Every sequence's inputs then targets, float32 little-endian (NaN targets kept). */
function sequenceBytes(sequences: readonly TrainSequence[]): Buffer {
  const chunks = sequences.flatMap((s) => [s.inputs, s.targets]).map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  return Buffer.concat(chunks);
}

function runPython(python: string, script: string, dir: string): Promise<TorchResult> {
  return new Promise((resolve, reject) => {
    execFile(python, [script, dir], { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' } }, (err, stdout, stderr) => {
      if (err !== null) {
        reject(new Error(`${python} ${script} failed: ${err.message}\n${stderr}`));
        return;
      }
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as TorchResult);
    });
  });
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const set = await readDemoDataset('sensor');
  const splits = splitSeries(set.series, { trainFraction: 0.8, validationFraction: 0, window: WINDOW, horizon: HORIZON });
  const scaler = fitScaler(set, splits);
  const { train: sequences } = buildSequences(set, splits, servingScaler(set, scaler, HORIZON, 'delta'), HORIZON, 'delta');
  const spec: RnnSpec = { cell: 'lstm', inputSize: set.features.length, hiddenSize: HIDDEN, numLayers: 1, outputSize: HORIZON * set.targets.length };
  const initial = initWeights(spec, seededRandom(SEED));
  const lanes = makeLanes(sequences, batchSize);
  const rows = sequences.reduce((n, s) => n + s.length, 0);

  const dir = await mkdtemp(join(tmpdir(), 'streamcell-bench-train-'));
  try {
    await writeFile(
      join(dir, 'job.json'),
      JSON.stringify({
        cell: spec.cell,
        inputSize: spec.inputSize,
        hidden: HIDDEN,
        layers: 1,
        outputSize: spec.outputSize,
        lengths: sequences.map((s) => s.length),
        window: WINDOW,
        batchSize,
        epochs,
        lr: LR,
        clip: CLIP,
      }),
    );
    await writeFile(join(dir, 'sequences.bin'), sequenceBytes(sequences));
    await writeFile(join(dir, 'weights.bin'), stateDictFloats(initial));

    process.stderr.write(`ours: ${epochs} epochs over ${rows} rows in ${lanes.length} lanes...\n`);
    const ours = train({ spec, train: sequences, validation: [], window: WINDOW, epochs, lr: LR, clip: CLIP, seed: SEED, batchSize, loss: 'mse', initial });
    process.stderr.write(`PyTorch: ${epochs} epochs...\n`);
    const torch = await runPython(args.python, new URL('torch_train.py', import.meta.url).pathname, dir);

    const sameLanes = torch.lanes.length === lanes.length && torch.lanes.every(([s, start, length], i) => lanes[i]!.sequence === s && lanes[i]!.start === start && lanes[i]!.length === length);
    if (!sameLanes) throw new Error(`the PyTorch script cut ${torch.lanes.length} lanes differently from makeLanes (${lanes.length} lanes): fix torch_train.py`);
    const oursLoss = ours.history[0]!.trainLoss;
    const torchLoss = torch.losses[0]!;
    const lossGap = Math.abs(oursLoss - torchLoss) / Math.abs(torchLoss);
    if (!(lossGap < 1e-3)) throw new Error(`first-epoch losses differ: ours ${oursLoss}, PyTorch ${torchLoss}; the two sides do not run the same job`);

    const oursEpochs = ours.history.map((h) => h.seconds);
    const oursS = median(oursEpochs.slice(1));
    const torchS = median(torch.epoch_seconds.slice(1));
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    const fmt = (xs: readonly number[]): string => xs.map((x) => x.toFixed(3)).join(' ');
    console.log(`job: sensor training part, ${sequences.length} series, ${rows} rows, 1-layer LSTM hidden ${HIDDEN}, input ${spec.inputSize}, output ${spec.outputSize}, window ${WINDOW}, ${lanes.length} lanes (batch ${batchSize}), ${torch.batches} window updates per epoch, ${epochs} epochs`);
    console.log(`machine: ${cpu}, ${cpus().length} cores, 1-min load ${loadavg()[0]!.toFixed(2)}; Node ${process.versions.node}; PyTorch ${torch.torch} with ${torch.threads} thread`);
    console.log('');
    console.log('| trainer | s/epoch (median of epochs 2..) | every epoch (s) | epoch-1 loss | last loss |');
    console.log('| --- | ---: | --- | ---: | ---: |');
    console.log(`| streamcell (float64) | ${oursS.toFixed(3)} | ${fmt(oursEpochs)} | ${oursLoss.toPrecision(6)} | ${ours.history.at(-1)!.trainLoss.toPrecision(6)} |`);
    console.log(`| PyTorch (float32, 1 thread) | ${torchS.toFixed(3)} | ${fmt(torch.epoch_seconds)} | ${torchLoss.toPrecision(6)} | ${torch.losses.at(-1)!.toPrecision(6)} |`);
    console.log('');
    console.log(`ratio torch/ours = ${(torchS / oursS).toFixed(2)} (>= 1: ours is at least as fast); epoch-1 losses agree to ${lossGap.toExponential(1)}`);
    console.log(JSON.stringify({ ours_s_per_epoch: Number(oursS.toFixed(4)), torch_s_per_epoch: Number(torchS.toFixed(4)), ratio: Number((torchS / oursS).toFixed(3)) }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
