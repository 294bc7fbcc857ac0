import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '@streamcell/model';
import { predict } from '../src/index.ts';
import { REPO_ROOT, compareSteps, tempDir } from './helpers.ts';

const run = promisify(execFile);
const PYTHON = process.env['STREAMCELL_PYTHON'] || '/usr/bin/python3';
const SCRIPT = join(REPO_ROOT, 'packages/model/python/roundtrip_check.py');

interface Case {
  name: string;
  dir: string;
  input: string;
  targetMode: string;
}

let out: string;
let cases: Case[] = [];

// Exporting from PyTorch is part of the product; a machine without torch must
// fail this suite, never skip it silently.
beforeAll(async () => {
  try {
    await run(PYTHON, ['-c', 'import torch']);
  } catch (err) {
    throw new Error(
      `${PYTHON} cannot import torch, which the PyTorch export round trip needs. ` +
        `Install it with \`apt-get install python3-torch\` or point STREAMCELL_PYTHON at a Python that has torch.\n` +
        String((err as { stderr?: string }).stderr ?? err),
    );
  }
  out = await tempDir();
  // No __pycache__ left in the source tree by the test.
  const env = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
  await run(PYTHON, [SCRIPT, out, '--seed', '4242', '--steps', '1200'], { timeout: 120_000, env });
  cases = JSON.parse(await readFile(join(out, 'cases.json'), 'utf8')) as Case[];
}, 180_000);

afterAll(async () => {
  if (out !== undefined) await rm(out, { recursive: true, force: true });
});

describe('models exported from PyTorch by export_streamcell.py, over 1,200 steps (no drift)', () => {
  it('cover every cell, CSV and keyed JSONL input, and delta mode', async () => {
    expect(cases.map((c) => c.name).sort()).toEqual(['gru', 'lstm', 'rnn_relu', 'rnn_tanh']);
    expect(cases.some((c) => c.input.endsWith('.csv'))).toBe(true);
    expect(cases.some((c) => c.targetMode === 'delta')).toBe(true);
    for (const c of cases) {
      const { manifest } = await loadModel(c.dir);
      expect(manifest.numLayers).toBe(2);
      expect(manifest.horizon).toBe(2);
      expect(manifest.scaler).not.toBeNull();
    }
  });

  it('predict agrees with PyTorch on forecast, h and c for every case', async () => {
    expect(cases.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const c of cases) {
      const expected = (await readFile(join(c.dir, 'expected.jsonl'), 'utf8'))
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { step: number; forecast: number[]; h: number[][]; c?: number[][] });
      expect(expected.length).toBe(1200);
      const steps: Record<string, unknown>[] = [];
      for await (const step of predict({ model: c.dir, input: c.input, state: true })) steps.push({ ...step });
      problems.push(...compareSteps(steps, expected).map((p) => `${c.name}: ${p}`));
    }
    expect(problems).toEqual([]);
  });
});
