import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { saveModel } from '@streamcell/model';
import type { ManifestInput } from '@streamcell/model';
import { initWeights, seededRandom } from '@streamcell/rnn';
import { runCli } from '../src/index.ts';

/** The repository root (where `node packages/cli/src/main.ts` is run from). */
export const REPO_ROOT = resolve(import.meta.dirname, '../../..');

/** PyTorch reference vectors: `<repo root>/../shared/golden`. */
export const GOLDEN_DIR = resolve(REPO_ROOT, '../shared/golden');

/** Result of one `streamcell` run. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A writable stream that keeps what is written to it. */
export function collector(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** Runs the CLI in-process with captured output. */
export async function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const out = collector();
  const err = collector();
  const code = await runCli(args, { stdout: out.stream, stderr: err.stream, env });
  return { code, stdout: out.text(), stderr: err.text() };
}

/** Runs `node packages/cli/src/main.ts ...` as a real process from the repo root. */
export function cliProcess(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      ['packages/cli/src/main.ts', ...args],
      { cwd: REPO_ROOT, env: { ...process.env, STREAMCELL_DEBUG: '', ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolvePromise({ code, stdout, stderr });
      },
    );
  });
}

/** Parses JSONL output. */
export function lines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A fresh temporary directory. */
export function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'streamcell-cli-'));
}

interface StepLine {
  step: number;
  forecast: number[];
  h?: number[][];
  c?: number[][];
}

function closeArrays(label: string, actual: unknown, expected: number[], tolerance: number, problems: string[]): void {
  if (!Array.isArray(actual) || actual.length !== expected.length) {
    problems.push(`${label}: expected ${expected.length} values, got ${JSON.stringify(actual)}`);
    return;
  }
  expected.forEach((e, i) => {
    const a = actual[i] as unknown;
    // Absolute below 1, relative above: float32 cannot resolve 1e-5 at, say, 306
    // (one step there is 3e-5), and unscaled forecasts reach such values.
    if (typeof a !== 'number' || !(Math.abs(a - e) <= tolerance * Math.max(1, Math.abs(e)))) {
      problems.push(`${label}[${i}]: got ${String(a)}, expected ${e} (diff ${typeof a === 'number' ? Math.abs(a - e) : 'n/a'})`);
    }
  });
}

/**
 * Compares predict output lines with reference lines (step, forecast, h, c
 * within `tolerance`; c present exactly when the reference has it) and
 * returns every disagreement, so a failure shows all of them at once.
 */
export function compareSteps(actual: Record<string, unknown>[], expected: StepLine[], tolerance = 1e-5): string[] {
  const problems: string[] = [];
  if (actual.length !== expected.length) problems.push(`expected ${expected.length} lines, got ${actual.length}`);
  expected.forEach((e, t) => {
    const a = actual[t];
    if (a === undefined) return;
    if (a['step'] !== e.step) problems.push(`line ${t}: step ${String(a['step'])}, expected ${e.step}`);
    closeArrays(`step ${t} forecast`, a['forecast'], e.forecast, tolerance, problems);
    for (const key of ['h', 'c'] as const) {
      const want = e[key];
      const got = a[key];
      if (want === undefined) {
        if (got !== undefined) problems.push(`step ${t}: unexpected "${key}"`);
        continue;
      }
      if (!Array.isArray(got) || got.length !== want.length) {
        problems.push(`step ${t}: "${key}" should have ${want.length} layers, got ${JSON.stringify(got)}`);
        continue;
      }
      want.forEach((layer, l) => closeArrays(`step ${t} ${key}[${l}]`, got[l], layer, tolerance, problems));
    }
  });
  return problems;
}

/** Writes a small random model (3 features, 2 targets, horizon 2) and returns its directory. */
export async function makeModel(dir: string, overrides: Partial<Record<string, unknown>> = {}): Promise<string> {
  const manifest = {
    name: 'cli-test',
    version: '1',
    cell: 'lstm',
    inputSize: 3,
    hiddenSize: 5,
    numLayers: 2,
    horizon: 2,
    features: ['temp', 'humidity', 'light'],
    targets: ['light', 'temp'],
    outputSize: 4,
    scaler: { mean: [20, 40, 300], std: [2, 5, 100] },
    ...overrides,
  } as ManifestInput;
  const { cell, inputSize, hiddenSize, numLayers, outputSize } = manifest;
  await saveModel(dir, manifest, initWeights({ cell, inputSize, hiddenSize, numLayers, outputSize }, seededRandom(12345)));
  return dir;
}
