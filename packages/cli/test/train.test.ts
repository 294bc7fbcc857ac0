import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '@streamcell/model';
import type { TrainReport } from '../src/train/report.ts';
import { cli, lines, tempDir } from './helpers.ts';

let dir: string;
let csv: string;
let single: string;

/** Two series (groups "a" and "b") of a noisy sine and a cosine-like driver, rows shuffled across groups. */
function syntheticCsv(rows: number): string {
  const out = ['day,station,drive,level'];
  for (let t = 0; t < rows; t++) {
    for (const [g, phase] of [
      ['a', 0],
      ['b', 1.3],
    ] as const) {
      const drive = Math.cos(t / 4 + phase);
      const level = 10 + 3 * Math.sin(t / 6 + phase) + 0.3 * Math.sin(t * 1.7);
      out.push(`${t},${g},${drive.toFixed(4)},${level.toFixed(4)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

beforeAll(async () => {
  dir = await tempDir();
  csv = join(dir, 'two.csv');
  await writeFile(csv, syntheticCsv(160));
  single = join(dir, 'one.csv');
  await writeFile(single, `drive,level\n${Array.from({ length: 120 }, (_, t) => `${Math.cos(t / 4).toFixed(4)},${(10 + 3 * Math.sin(t / 6)).toFixed(4)}`).join('\n')}\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SMALL = ['--hidden', '4', '--window', '8', '--epochs', '3', '--batch-size', '4', '--horizon', '2'];

function trainArgs(out: string, extra: string[] = []): string[] {
  return ['train', '--data', csv, '--features', 'drive,level', '--targets', 'level', '--group-column', 'station', '--time-column', 'day', '--out', out, ...SMALL, ...extra];
}

/** Asserts a failed run: exit code, exactly one stderr line, and the fragments in it. */
function expectFailure(run: { code: number; stderr: string }, code: number, ...fragments: string[]): void {
  expect(run.code, run.stderr).toBe(code);
  expect(run.stderr.trimEnd().split('\n'), run.stderr).toHaveLength(1);
  for (const fragment of fragments) expect(run.stderr).toContain(fragment);
}

describe('streamcell train', () => {
  it('trains end to end: a loadable model, its report with loss curves, and predict runs on it', async () => {
    const out = join(dir, 'model');
    const run = await cli(trainArgs(out, ['--name', 'synth', '--version', '7', '--target-mode', 'delta']));
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ model: out, name: 'synth', version: '7', epochs: 3 });
    // Not a terminal: one plain progress line per epoch.
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(3);
    expect(run.stderr).toMatch(/^epoch 1\/3 batches=\d+ loss=[\d.]+ validation_loss=[\d.]+ /);

    const model = await loadModel(out);
    expect(model.manifest).toMatchObject({
      name: 'synth',
      version: '7',
      cell: 'lstm',
      hiddenSize: 4,
      horizon: 2,
      features: ['drive', 'level'],
      targets: ['level'],
      outputSize: 2,
      targetMode: 'delta',
    });
    expect(model.manifest.metadata).toMatchObject({ columns: { timeColumn: 'day', groupColumn: 'station' }, split: { trainFraction: 0.8, validationFraction: 0.1 } });

    const report = JSON.parse(await readFile(join(out, 'report.json'), 'utf8')) as TrainReport;
    expect(report.history).toHaveLength(3);
    for (const h of report.history) {
      expect(Number.isFinite(h.trainLoss)).toBe(true);
      expect(Number.isFinite(h.validationLoss)).toBe(true);
    }
    // floor(160 * 0.8) = 128 rows before the held-out part, floor(128 * 0.1) = 12 of them validate.
    expect(report.data.series).toEqual([
      { id: 'a', rows: 160, trainRows: 116, validationRows: 12, heldOutRows: 32 },
      { id: 'b', rows: 160, trainRows: 116, validationRows: 12, heldOutRows: 32 },
    ]);
    expect(report.scaler).toEqual(model.manifest.scaler);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('validation loss');

    const predicted = await cli(['predict', '--model', out, '--input', single]);
    expect(predicted.code, predicted.stderr).toBe(0);
    const steps = lines(predicted.stdout);
    expect(steps).toHaveLength(120);
    for (const s of steps) for (const v of s['forecast'] as number[]) expect(Number.isFinite(v)).toBe(true);
  });

  it('is repeatable: the same seed and data give the same weight bytes; another seed does not', async () => {
    const a = join(dir, 'seed-a');
    const b = join(dir, 'seed-b');
    const c = join(dir, 'seed-c');
    for (const [out, seed] of [
      [a, '5'],
      [b, '5'],
      [c, '6'],
    ] as const) {
      const run = await cli(trainArgs(out, ['--seed', seed, '--cell', 'gru']));
      expect(run.code, run.stderr).toBe(0);
    }
    const bytes = async (d: string) => readFile(join(d, 'weights.safetensors'));
    expect((await bytes(a)).equals(await bytes(b))).toBe(true);
    expect(await readFile(join(a, 'model.json'), 'utf8')).toBe(await readFile(join(b, 'model.json'), 'utf8'));
    expect((await bytes(a)).equals(await bytes(c))).toBe(false);
  });

  it('without validation keeps the last epoch and writes no validation loss', async () => {
    const out = join(dir, 'noval');
    const run = await cli(trainArgs(out, ['--validation-fraction', '0']));
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ epochs: 3, bestEpoch: 3, validationLoss: null });
    expect(run.stderr).not.toContain('validation_loss');
  });

  it('--dataset fills in the file and the columns', async () => {
    const out = join(dir, 'weather');
    const run = await cli(['train', '--dataset', 'weather', '--out', out, '--hidden', '2', '--epochs', '1', '--quiet']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const { manifest } = await loadModel(out);
    expect(manifest).toMatchObject({ name: 'weather', features: ['precipitation', 'temp_max', 'temp_min', 'wind'], targets: ['temp_max', 'temp_min'] });
    expect(manifest.metadata).toMatchObject({ data: { dataset: 'weather' }, columns: { timeColumn: 'date' } });
  });
});

describe('help', () => {
  it('lists train and eval, and each prints its own help', async () => {
    const overview = await cli(['--help']);
    expect(overview.stdout).toMatch(/^\s+train\s+train a forecaster/m);
    expect(overview.stdout).toMatch(/^\s+eval\s+score a model/m);
    const train = await cli(['train', '--help']);
    expect(train.code).toBe(0);
    expect(train.stdout).toContain('--validation-fraction F');
    const evaluation = await cli(['eval', '--help']);
    expect(evaluation.code).toBe(0);
    expect(evaluation.stdout).toContain('seasonal_naive');
  });
});

describe('streamcell train errors', () => {
  const usageCases: [string, string[], string][] = [
    ['no data', ['train', '--out', 'x'], 'missing --data FILE.csv'],
    ['no out', ['train', '--data', 'x.csv', '--features', 'a'], 'missing --out DIR'],
    ['no features', ['train', '--data', 'x.csv', '--out', 'x'], 'missing --features'],
    ['data and dataset', ['train', '--data', 'x.csv', '--dataset', 'weather', '--out', 'x'], 'not both'],
    ['unknown dataset', ['train', '--dataset', 'moon', '--out', 'x'], 'unknown demo data set "moon"'],
    ['hidden 0', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--hidden', '0'], '--hidden must be in [1, 4096], not 0'],
    ['hidden 2.5', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--hidden', '2.5'], '--hidden must be an integer, not "2.5"'],
    ['layers 0', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--layers', '0'], '--layers must be in [1, 16]'],
    ['horizon x', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--horizon', 'x'], '--horizon must be an integer'],
    ['window 0', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--window', '0'], '--window must be in [1, 100000]'],
    ['epochs 0', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--epochs', '0'], '--epochs must be in [1, 1000000]'],
    ['lr 0', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--lr', '0'], '--lr must be in (0, 10]'],
    ['lr text', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--lr', 'fast'], '--lr must be a number, not "fast"'],
    ['clip negative', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--clip=-1'], '--clip must be >= 0'],
    ['train fraction 1', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--train-fraction', '1'], '--train-fraction must be in (0, 1), not 1'],
    ['train fraction 0', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--train-fraction', '0'], '--train-fraction must be in (0, 1), not 0'],
    ['validation fraction 1', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--validation-fraction', '1'], '--validation-fraction must be in [0, 1), not 1'],
    ['batch size 0', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--batch-size', '0'], '--batch-size must be in [1, 65536]'],
    ['patience 0', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--patience', '0'], '--patience must be >= 1'],
    ['seed negative', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--seed=-3'], '--seed must be in [0, 4294967295]'],
    ['cell', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--cell', 'transformer'], '--cell must be one of lstm, gru, rnn_tanh, rnn_relu'],
    ['loss', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--loss', 'l3'], '--loss must be one of mse, mae, huber'],
    ['target mode', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--target-mode', 'ratio'], '--target-mode must be one of level, delta'],
    ['target not a feature', ['train', '--data', 'x.csv', '--features', 'a', '--targets', 'b', '--out', 'x'], 'must also be features'],
    ['empty column name', ['train', '--data', 'x.csv', '--features', 'a,,b', '--out', 'x'], '--features must be a comma-separated list'],
    ['bad name', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--name', '../up'], '--name must start with a letter or digit'],
    ['unknown option', ['train', '--data', 'x.csv', '--features', 'a', '--out', 'x', '--epoch', '3'], 'unknown option --epoch'],
  ];
  for (const [what, args, fragment] of usageCases) {
    it(`usage error: ${what}`, async () => {
      expectFailure(await cli(args), 2, 'streamcell train: ', fragment);
    });
  }

  it('a missing column names it and lists the header', async () => {
    const run = await cli(['train', '--data', csv, '--features', 'drive,rain', '--out', join(dir, 'x')]);
    expectFailure(run, 1, 'no column(s) "rain"', 'the header has "day", "station", "drive", "level"');
  });

  it('a non-numeric cell names the file, line and column', async () => {
    const file = join(dir, 'bad.csv');
    await writeFile(file, 'a,b\n1,2\n3,4\n5,n/a\n');
    expectFailure(await cli(['train', '--data', file, '--features', 'a,b', '--out', join(dir, 'x')]), 1, `${file} line 4, column "b": "n/a" is not a number`);
  });

  it('a missing file says so', async () => {
    expectFailure(await cli(['train', '--data', join(dir, 'nope.csv'), '--features', 'a', '--out', join(dir, 'x')]), 1, 'no such file');
  });

  it('a series too short for window + horizon after the split names the series', async () => {
    const file = join(dir, 'short.csv');
    const rows = [...Array.from({ length: 200 }, (_, t) => `long,${t},${t % 7}`), ...Array.from({ length: 30 }, (_, t) => `tiny,${t},${t % 5}`)];
    await writeFile(file, `g,a,b\n${rows.join('\n')}\n`);
    const run = await cli(['train', '--data', file, '--features', 'a,b', '--group-column', 'g', '--window', '24', '--horizon', '2', '--validation-fraction', '0', '--out', join(dir, 'x')]);
    expectFailure(run, 1, 'series "tiny" is too short: of its 30 rows, 24 are left for training', '--window + --horizon = 24 + 2 = 26');
  });

  it('a validation part with no room for a target is refused', async () => {
    const run = await cli(['train', '--data', csv, '--features', 'drive,level', '--group-column', 'station', '--horizon', '3', '--validation-fraction', '0.02', '--out', join(dir, 'x')]);
    expectFailure(run, 1, 'series "a" is too short for validation: its validation part has 2 rows', 'no more than --horizon 3');
  });

  it('a feature constant over the training rows is refused', async () => {
    const file = join(dir, 'constant.csv');
    await writeFile(file, `a,b\n${Array.from({ length: 100 }, (_, t) => `${t},${t < 80 ? 5 : t}`).join('\n')}\n`);
    expectFailure(await cli(['train', '--data', file, '--features', 'a,b', '--window', '4', '--out', join(dir, 'x')]), 1, 'feature "b" is constant (5)', 'leave it out of --features');
  });

  it('writes nothing when it fails before training', async () => {
    const out = join(dir, 'never');
    await cli(['train', '--data', csv, '--features', 'drive,rain', '--out', out]);
    await expect(stat(out)).rejects.toThrow();
  });
});
