/** The README documents what the code does: checked, not hoped. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_CODES } from '@streamcell/protocol';
import { ENV_VARS as GATEWAY_ENV_VARS } from '../services/gateway/src/config.ts';
import { ENV_VARS as REPLAYER_ENV_VARS } from '../services/replayer/src/config.ts';
import { ENV_VARS } from '../services/worker/src/config.ts';

const README = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');

describe('README', () => {
  /** The rows of the variables table in the README section that opens with `heading`. */
  function envRows(heading: string): [string, string][] {
    const start = README.indexOf(`\n## ${heading}\n`);
    expect(start, heading).toBeGreaterThanOrEqual(0);
    const end = README.indexOf('\n## ', start + 1);
    const section = README.slice(start, end < 0 ? undefined : end);
    return [...section.matchAll(/^\| `([A-Z_]+)` \| ([^|]*) \|/gm)].map((m) => [m[1]!, m[2]!.trim()]);
  }

  it.each([
    ['The worker', ENV_VARS],
    ['The gateway', GATEWAY_ENV_VARS],
    ['The replayer', REPLAYER_ENV_VARS],
  ])('lists every environment variable of "%s" with its default, and no others', (heading, vars) => {
    const rows = envRows(heading);
    expect(rows.map((r) => r[0])).toEqual(vars.map((v) => v.name));
    for (const v of vars) {
      const shown = rows.find((r) => r[0] === v.name)![1];
      expect(shown, v.name).toBe(v.default === undefined ? '' : v.default === '' ? '(empty)' : `\`${v.default}\``);
    }
  });

  it('gives each replayer setting its flag', () => {
    const start = README.indexOf('\n## The replayer\n');
    const section = README.slice(start, README.indexOf('\n## ', start + 1));
    const flags = [...section.matchAll(/^\| `([A-Z_]+)` \| [^|]* \| `--([a-z-]+)` \|/gm)].map((m) => [m[1], m[2]]);
    expect(flags).toEqual(REPLAYER_ENV_VARS.map((v) => [v.name, v.flag]));
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
