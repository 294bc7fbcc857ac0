import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { predict } from '../src/index.ts';
import { GOLDEN_DIR, cliProcess, compareSteps, lines } from './helpers.ts';

// The reference vectors are required: without them nothing checks our cells
// against PyTorch, so their absence fails the suite rather than skipping it.
const cases = existsSync(GOLDEN_DIR)
  ? readdirSync(GOLDEN_DIR, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort()
  : [];

function expectedOf(name: string) {
  return readFileSync(join(GOLDEN_DIR, name, 'expected.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { step: number; forecast: number[]; h: number[][]; c?: number[][] });
}

describe('predict matches PyTorch on the golden vectors', () => {
  it(`finds the golden vectors in ${GOLDEN_DIR}`, () => {
    expect(existsSync(GOLDEN_DIR), `${GOLDEN_DIR} is missing; the PyTorch reference vectors are required`).toBe(true);
    expect(cases.length).toBeGreaterThan(0);
    // Every cell type must be covered, or a broken cell could pass unnoticed.
    const cells = new Set(cases.map((name) => (JSON.parse(readFileSync(join(GOLDEN_DIR, name, 'model.json'), 'utf8')) as { cell: string }).cell));
    expect([...cells].sort()).toEqual(['gru', 'lstm', 'rnn_relu', 'rnn_tanh']);
  });

  it.each(cases)('%s in-process, with state', async (name) => {
    const steps: Record<string, unknown>[] = [];
    for await (const step of predict({ model: join(GOLDEN_DIR, name), input: join(GOLDEN_DIR, name, 'input.jsonl'), state: true })) {
      steps.push({ ...step });
    }
    const expected = expectedOf(name);
    expect(expected.length).toBeGreaterThan(0);
    expect(compareSteps(steps, expected)).toEqual([]);
  });

  it.each(cases)('%s as a real `node packages/cli/src/main.ts predict` process', async (name) => {
    const run = await cliProcess(['predict', '--model', join(GOLDEN_DIR, name), '--input', join(GOLDEN_DIR, name, 'input.jsonl'), '--state']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(compareSteps(lines(run.stdout), expectedOf(name))).toEqual([]);
  });
});
