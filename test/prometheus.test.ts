/**
 * deploy/prometheus checked by Prometheus' own tool: the scrape config and
 * rule files load (`promtool check config|rules`), and the alerts fire on the
 * series in deploy/prometheus/tests/alerts.test.yml and stay quiet on the
 * others (`promtool test rules`). Needs Debian's prometheus package
 * (/usr/bin/promtool, or PROMTOOL=path); without it the test fails and says
 * so rather than skipping.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const DIR = join(ROOT, 'deploy', 'prometheus');
const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';
const run = promisify(execFile);

async function promtool(...args: string[]): Promise<string> {
  if (!existsSync(PROMTOOL)) {
    throw new Error(`promtool not found at ${PROMTOOL}: install Debian's prometheus package (apt-get install prometheus) or set PROMTOOL to its path`);
  }
  try {
    const { stdout, stderr } = await run(PROMTOOL, args, { cwd: DIR });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

const ruleFiles = readdirSync(join(DIR, 'rules'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => join('rules', f));

describe('deploy/prometheus', () => {
  it('has a scrape config promtool accepts, loading every rule file', async () => {
    const out = await promtool('check', 'config', 'prometheus.yml');
    expect(out).toContain(`SUCCESS: ${ruleFiles.length} rule files found`);
  });

  it('has rule files promtool accepts', async () => {
    expect(ruleFiles.length).toBeGreaterThanOrEqual(2);
    const out = await promtool('check', 'rules', ...ruleFiles);
    expect(out.match(/SUCCESS: \d+ rules found/g)).toHaveLength(ruleFiles.length);
  });

  it('fires each alert on the series of its unit test, and only there', async () => {
    const out = await promtool('test', 'rules', join('tests', 'alerts.test.yml'));
    expect(out).toContain('SUCCESS');
  });
});
