/** The README documents what the code does: checked, not hoped. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_CODES } from '@streamcell/protocol';
import { ENV_VARS } from '../services/worker/src/config.ts';

const README = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');

describe('README', () => {
  it('lists every worker environment variable with its default, and no others', () => {
    const rows = [...README.matchAll(/^\| `([A-Z_]+)` \| ([^|]*) \|/gm)].map((m) => [m[1], m[2]!.trim()]);
    expect(rows.map((r) => r[0])).toEqual(ENV_VARS.map((v) => v.name));
    for (const v of ENV_VARS) {
      const shown = rows.find((r) => r[0] === v.name)![1];
      expect(shown, v.name).toBe(v.default === undefined ? '' : v.default === '' ? '(empty)' : `\`${v.default}\``);
    }
  });

  it('names every dead-letter code', () => {
    for (const code of DEAD_LETTER_CODES) expect(README).toContain(`\`${code}\``);
  });

  it('gives exactly two quickstart commands, and both exist in ./run', () => {
    const quick = /## Quickstart[\s\S]*?```bash\n([\s\S]*?)```/.exec(README)![1]!.trim().split('\n');
    expect(quick.map((l) => l.split('#')[0]!.trim())).toEqual(['./run demo', './run test']);
    const run = readFileSync(join(import.meta.dirname, '..', 'run'), 'utf8');
    expect(run).toMatch(/^ {2}demo\)/m);
    expect(run).toMatch(/^ {2}test\)/m);
  });
});
