import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PROCESS_TS = fileURLToPath(new URL('../src/process.ts', import.meta.url));
const PROTOCOL = fileURLToPath(new URL('../../protocol/src/index.ts', import.meta.url));

/**
 * Runs an ES module script in a child node. The first of `signals` is sent
 * once it prints "ready", each next one once it printed more since the last
 * (two signals sent back to back may be handled in either order).
 */
function run(script: string, signals: NodeJS.Signals[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let seenAtLastSignal = -1;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('ready') && stdout.length > seenAtLastSignal && signals.length > 0) {
        seenAtLastSignal = stdout.length;
        child.kill(signals.shift());
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const LOG = `const log = { info: (o, m) => console.log('info', m, o.signal), warn: (o, m) => console.log('warn', m, o.signal) };`;

describe('loadOrExit', () => {
  it('returns what the loader returns', async () => {
    const r = await run(`import { loadOrExit } from '${PROCESS_TS}'; console.log(loadOrExit(() => 41 + 1));`);
    expect(r).toMatchObject({ code: 0, stdout: '42\n' });
  });

  it('prints a configuration error without a stack and exits 2', async () => {
    const r = await run(`import { loadOrExit } from '${PROCESS_TS}'; import { StreamcellError } from '${PROTOCOL}';
      loadOrExit(() => { throw new StreamcellError('config_invalid', 'invalid configuration:\\n  PORT=x: must be a whole number'); }); console.log('not reached');`);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('invalid configuration:\n  PORT=x: must be a whole number\n');
    expect(r.stdout).toBe('');
  });
});

describe('onStopSignals', () => {
  it('drains once on the first signal', async () => {
    const r = await run(
      `import { onStopSignals } from '${PROCESS_TS}'; ${LOG}
       onStopSignals(log, (s) => { console.log('drain', s); setTimeout(() => process.exit(0), 50); });
       setInterval(() => {}, 1000); console.log('ready');`,
      ['SIGTERM'],
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('ready\ninfo signal received SIGTERM\ndrain SIGTERM\n');
  });

  it('exits 1 at once on a second signal, without draining again', async () => {
    const r = await run(
      `import { onStopSignals } from '${PROCESS_TS}'; ${LOG}
       onStopSignals(log, (s) => console.log('drain', s));
       setInterval(() => {}, 1000); console.log('ready');`,
      ['SIGINT', 'SIGTERM'],
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('ready\ninfo signal received SIGINT\ndrain SIGINT\nwarn second signal: exiting without draining SIGTERM\n');
  });
});
