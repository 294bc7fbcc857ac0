import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float32Number } from '@streamcell/protocol';
import { createScaler, loadModel } from '@streamcell/model';
import { createReferenceStepper, stateSize } from '@streamcell/rnn';
import { REPO_ROOT, cli, cliProcess, compareSteps, lines, makeModel, tempDir } from './helpers.ts';

let dir: string;
let lstm: string;
let gru: string;
let delta: string;

// Raw rows in feature order (temp, humidity, light).
const ROWS = [
  [21.5, 40.2, 310],
  [22.1, 39.8, 305.5],
  [19.75, 45, 120],
  [18, 50.5, 0],
  [25.25, 30, 800],
];

beforeAll(async () => {
  dir = await tempDir();
  lstm = await makeModel(join(dir, 'lstm'));
  gru = await makeModel(join(dir, 'gru'), { cell: 'gru', numLayers: 1, hiddenSize: 4 });
  delta = await makeModel(join(dir, 'delta'), { cell: 'rnn_tanh', targetMode: 'delta' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

const jsonl = (rows: unknown[]) => rows.map((values) => JSON.stringify({ values })).join('\n') + '\n';

/** Asserts a failed run: exit code, exactly one stderr line, and the fragments in it. */
function expectFailure(run: { code: number; stderr: string; stdout: string }, code: number, ...fragments: string[]): void {
  expect(run.code, run.stderr).toBe(code);
  expect(run.stderr.endsWith('\n')).toBe(true);
  expect(run.stderr.trimEnd().split('\n'), run.stderr).toHaveLength(1);
  for (const fragment of fragments) expect(run.stderr).toContain(fragment);
}

/** What predict should print, computed with the trusted reference stepper and the documented scaler arithmetic. */
async function referenceSteps(modelDir: string, rows: number[][], withState: boolean) {
  const { manifest, weights } = await loadModel(modelDir);
  const stepper = createReferenceStepper(weights, 1);
  const scaler = createScaler(manifest);
  const state = new Float32Array(stateSize(weights));
  const x = new Float32Array(manifest.inputSize);
  const head = new Float32Array(manifest.outputSize);
  const forecast = new Float32Array(manifest.outputSize);
  const H = manifest.hiddenSize;
  const L = manifest.numLayers;
  return rows.map((raw, step) => {
    raw.forEach((v, i) => (x[i] = (v - manifest.scaler!.mean[i]!) / manifest.scaler!.std[i]!));
    stepper.step(1, x, state, head);
    scaler.toForecast(head, 0, x, 0, forecast);
    const layers = (from: number) => Array.from({ length: L }, (_, l) => Array.from(state.subarray((from + l) * H, (from + l + 1) * H)));
    return {
      step,
      forecast: Array.from(forecast),
      ...(withState ? { h: layers(0), ...(manifest.cell === 'lstm' ? { c: layers(L) } : {}) } : {}),
    };
  });
}

describe('streamcell command line', () => {
  it('prints the command list with --help and on no arguments (then as a usage error)', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: streamcell <command>[\s\S]*predict/);
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Usage: streamcell/);
    const topic = await cli(['help', 'predict']);
    expect(topic.code).toBe(0);
    expect(topic.stdout).toMatch(/--model DIR/);
  });

  it('prints predict help with --help and -h, even next to other options', async () => {
    for (const args of [['predict', '--help'], ['predict', '-h'], ['predict', '--model', 'x', '--help']]) {
      const run = await cli(args);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^Usage: streamcell predict --model DIR --input FILE/);
      expect(run.stderr).toBe('');
    }
  });

  it.each([
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['predict'], 'missing --model'],
    [['predict', '--model', 'm'], 'missing --input'],
    [['predict', '--model', 'm', '--input', 'i', '--bogus'], 'unknown option --bogus'],
    [['predict', '--model', 'm', '--input', 'i', 'extra'], 'unexpected argument "extra"'],
    [['predict', '--model', 'm', '--model', 'n', '--input', 'i'], '--model given more than once'],
    [['predict', '--model', 'm', '--input', 'i', '--state=yes'], '--state takes no value'],
    [['predict', '--model', '--state', '--input', 'i'], '--model needs a value'],
    [['predict', '--model', 'm', '--input'], '--input needs a value'],
    [['predict', '--model', 'm', '--input', 'i', '--format', 'xml'], '--format must be one of jsonl, csv'],
  ])('exits 2 with one line for usage error %j', async (args, message) => {
    const run = await cli(args);
    expectFailure(run, 2, message, '--help');
    expect(run.stdout).toBe('');
  });

  it('exits 1 with one line naming the file when the model cannot be loaded; stack only with STREAMCELL_DEBUG=1', async () => {
    const input = await file('ok.jsonl', jsonl(ROWS));
    const missing = join(dir, 'no-model');
    expectFailure(await cli(['predict', '--model', missing, '--input', input]), 1, `streamcell predict: ${missing}/model.json`, 'no such file');
    const debug = await cli(['predict', '--model', missing, '--input', input], { STREAMCELL_DEBUG: '1' });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/\n\s+at /);
    expect(debug.stderr).toMatch(/Caused by: Error: ENOENT/);
  });

  it('as a real process: exit code 2 on usage errors, 1 on failures, one stderr line and no stack', async () => {
    const usage = await cliProcess(['predict', '--input']);
    expectFailure(usage, 2, 'streamcell predict: --input needs a value');
    const failure = await cliProcess(['predict', '--model', join(dir, 'absent'), '--input', 'x.jsonl']);
    expectFailure(failure, 1, 'absent/model.json');
  });
});

describe('predict', () => {
  it('applies the scaler and prints what the reference stepper computes', async () => {
    const input = await file('rows.jsonl', jsonl(ROWS));
    const run = await cli(['predict', '--model', lstm, '--input', input, '--state']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(compareSteps(lines(run.stdout), await referenceSteps(lstm, ROWS, true))).toEqual([]);
    // The scaler matters: these inputs are far from zero, so ignoring it would fail.
    const forecasts = lines(run.stdout).map((l) => l['forecast'] as number[]);
    expect(forecasts[0]![0]).toBeGreaterThan(100); // "light" is unscaled around 300
  });

  it('adds the last observation back in delta mode', async () => {
    const input = await file('delta.jsonl', jsonl(ROWS));
    const run = await cli(['predict', '--model', delta, '--input', input]);
    expect(run.code).toBe(0);
    expect(compareSteps(lines(run.stdout), await referenceSteps(delta, ROWS, false))).toEqual([]);
  });

  it('prints exactly step and forecast without --state; h only (no c) for a GRU with --state', async () => {
    const input = await file('plain.jsonl', jsonl(ROWS));
    const plain = lines((await cli(['predict', '--model', lstm, '--input', input])).stdout);
    expect(plain).toHaveLength(ROWS.length);
    expect(Object.keys(plain[0]!)).toEqual(['step', 'forecast']);
    expect(plain.map((l) => l['step'])).toEqual([0, 1, 2, 3, 4]);
    expect(plain[0]!['forecast']).toHaveLength(4);
    const withState = lines((await cli(['predict', '--model', gru, '--input', input, '--state'])).stdout);
    expect(Object.keys(withState[0]!)).toEqual(['step', 'forecast', 'h']);
    expect(withState[0]!['h']).toHaveLength(1);
    expect((withState[0]!['h'] as number[][])[0]).toHaveLength(4);
  });

  it('prints forecasts at float32 precision (shortest decimal) and h and c as exact float32 values', async () => {
    const input = await file('f32.jsonl', jsonl(ROWS));
    const out = lines((await cli(['predict', '--model', lstm, '--input', input, '--state'])).stdout);
    const reference = await referenceSteps(lstm, ROWS, true);
    // The reference kernel may differ in the last bits; what is printed is the float32 the line's own digits denote.
    const printed = out[2]!['forecast'] as number[];
    printed.forEach((v, i) => {
      expect(float32Number(v)).toBe(v);
      expect(Math.abs(Math.fround(v) - reference[2]!.forecast[i]!)).toBeLessThan(1e-3);
    });
    for (const v of (out[2]!['c'] as number[][]).flat()) expect(Math.fround(v)).toBe(v);
  });

  it('reads values keyed by feature name, ignores other event keys and blank lines', async () => {
    const keyed = ROWS.map(([temp, humidity, light], i) => JSON.stringify({ stream: 's', ts: i, values: { light, temp, humidity } }));
    const a = await cli(['predict', '--model', lstm, '--input', await file('keyed.jsonl', `\n${keyed.join('\n\n')}\r\n`)]);
    const b = await cli(['predict', '--model', lstm, '--input', await file('array.jsonl', jsonl(ROWS))]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
  });

  it.each([
    ['{"values": [1, 2, 3]}\n{"values": [1, 2', 'line 2: invalid JSON'],
    ['{"value": [1, 2, 3]}', 'line 1: expected an object with "values"'],
    ['[1, 2, 3]', 'line 1: expected an object with "values"'],
    ['{"values": [1, 2]}', 'line 1: "values" has 2 entries, the model has 3 features'],
    ['{"values": [1, "2", 3]}', 'line 1: values[1] (humidity): "2" is not a number'],
    ['{"values": [1, null, 3]}', 'values[1] (humidity): null is not a number'],
    ['{"values": [1, 1e400, 3]}', 'values[1] (humidity): Infinity is not finite'],
    ['{"values": {"temp": 1, "light": 3}}', 'line 1: missing feature(s) "humidity"'],
    ['{"values": {"temp": 1, "humidity": 2, "light": 3, "pressure": 4}}', 'unknown feature(s) "pressure"'],
    ['{"values": {"temp": 1, "humidity": true, "light": 3}}', '"humidity": true is not a number'],
    ['{"values": 5}', '"values" must be an array or an object'],
    ['{"values": [1e39, 0, 0]}', 'line 1: feature "temp"'],
  ])('rejects bad JSONL %j with the line', async (text, message) => {
    const input = await file('bad.jsonl', text);
    expectFailure(await cli(['predict', '--model', lstm, '--input', input]), 1, input, message);
  });

  it('prints the steps before a bad line, then fails', async () => {
    const input = await file('partial.jsonl', `${jsonl(ROWS.slice(0, 2))}{"values": [1, "x", 3]}\n`);
    const run = await cli(['predict', '--model', lstm, '--input', input]);
    expectFailure(run, 1, 'line 3');
    expect(lines(run.stdout)).toHaveLength(2);
  });

  it('matches CSV columns to features by name, whatever their order, ignoring extra columns', async () => {
    const csv = ['\uFEFFts,light,"temp",note,humidity', ...ROWS.map(([t, h, l], i) => `${i},${l},${t},"a, b",${h}`)].join('\r\n');
    const fromCsv = await cli(['predict', '--model', lstm, '--input', await file('rows.csv', csv)]);
    const fromJsonl = await cli(['predict', '--model', lstm, '--input', await file('same.jsonl', jsonl(ROWS))]);
    expect(fromCsv.stderr).toBe('');
    expect(fromCsv.code).toBe(0);
    expect(fromCsv.stdout).toBe(fromJsonl.stdout);
  });

  it.each([
    ['ts,temp,light\n0,1,2\n', 'header lacks column(s) "humidity"'],
    ['temp,humidity,light\n1,2,3\n4,abc,6\n', 'line 3, column "humidity": "abc" is not a number'],
    ['temp,humidity,light\n1,,3\n', 'line 2, column "humidity": empty value'],
    ['temp,humidity,light\n1,0x10,3\n', '"0x10" is not a number'],
    ['temp,humidity,light\n1,Infinity,3\n', '"Infinity" is not a number'],
    ['temp,humidity,light\n1,1e999,3\n', '1e999 is not finite'],
    ['temp,humidity,light\n1,2\n', 'line 2'],
    ['temp,humidity,temp,light\n1,2,3,4\n', 'column "temp" more than once'],
    ['', 'empty, expected a header row'],
  ])('rejects bad CSV %j naming line and column', async (text, message) => {
    const input = await file('bad.csv', text);
    expectFailure(await cli(['predict', '--model', lstm, '--input', input]), 1, input, message);
  });

  it('prints nothing for a CSV with only a header', async () => {
    const run = await cli(['predict', '--model', lstm, '--input', await file('header.csv', 'temp,humidity,light\n')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
  });

  it('detects the format from content when the extension says nothing, and obeys --format', async () => {
    const asJsonl = await file('events.txt', jsonl(ROWS));
    const asCsv = await file('table.txt', `temp,humidity,light\n${ROWS.map((r) => r.join(',')).join('\n')}\n`);
    const a = await cli(['predict', '--model', lstm, '--input', asJsonl]);
    const b = await cli(['predict', '--model', lstm, '--input', asCsv]);
    expect(a.code).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    const forced = await cli(['predict', '--model', lstm, '--input', asJsonl, '--format', 'csv']);
    expectFailure(forced, 1, 'events.txt: ', 'line 1');
  });

  it('reports an input path that is missing or a directory', async () => {
    expectFailure(await cli(['predict', '--model', lstm, '--input', join(dir, 'nope.jsonl')]), 1, 'nope.jsonl: cannot read (no such file)');
    expectFailure(await cli(['predict', '--model', lstm, '--input', dir, '--format', 'jsonl']), 1, 'is a directory');
  });

  it('reads standard input with --input -', async () => {
    const child = spawn(process.execPath, ['packages/cli/src/main.ts', 'predict', '--model', lstm, '--input', '-'], { cwd: REPO_ROOT });
    child.stdin.end(jsonl(ROWS));
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    const inProcess = await cli(['predict', '--model', lstm, '--input', await file('stdin-same.jsonl', jsonl(ROWS))]);
    expect(stdout).toBe(inProcess.stdout);
  });

  it('exits quietly with 0 when the reader closes the pipe early (| head)', async () => {
    const many = Array.from({ length: 30_000 }, (_, i) => ROWS[i % ROWS.length]!);
    const input = await file('many.jsonl', jsonl(many));
    const child = spawn(process.execPath, ['packages/cli/src/main.ts', 'predict', '--model', lstm, '--input', input, '--state'], {
      cwd: REPO_ROOT,
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
