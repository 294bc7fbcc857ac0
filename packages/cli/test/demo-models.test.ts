/**
 * The demo models in models/ and the command lines committed beside them
 * (models/<name>/train.sh): the commands still run as written from a fresh
 * clone, they describe the committed models, and `eval` of a committed model
 * still gives the scores committed beside it (docs/models.md quotes them).
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '@streamcell/model';
import { REPO_ROOT, cli, tempDir as newTempDir } from './helpers.ts';

const scratch: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await newTempDir();
  scratch.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(scratch.map((d) => rm(d, { recursive: true, force: true })));
});

const DEMOS = [
  { name: 'weather', version: '2' },
  { name: 'sensor', version: '1' },
  { name: 'stock', version: '1' },
] as const;

/** The arguments of each `node packages/cli/src/main.ts <command> ...` line of a script, continuation lines joined. */
async function scriptCommands(file: string): Promise<Map<string, string[]>> {
  const text = (await readFile(file, 'utf8')).replace(/\\\n/g, ' ');
  const commands = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^node packages\/cli\/src\/main\.ts (\w+) (.*?)(?:>.*)?$/.exec(line.trim());
    if (m) commands.set(m[1]!, m[2]!.trim().split(/\s+/));
  }
  return commands;
}

/** `args` with the value of `--flag` replaced (or the flag dropped when `value` is undefined). */
function withFlag(args: readonly string[], flag: string, value: string | undefined): string[] {
  const at = args.indexOf(flag);
  expect(at, `${flag} in ${args.join(' ')}`).toBeGreaterThanOrEqual(0);
  const rest = [...args.slice(0, at), ...args.slice(at + 2)];
  return value === undefined ? rest : [...rest, flag, value];
}

function flag(args: readonly string[], name: string): string {
  const at = args.indexOf(name);
  expect(at, name).toBeGreaterThanOrEqual(0);
  return args[at + 1]!;
}

describe.each(DEMOS)('models/$name/$version', ({ name, version }) => {
  const script = join(REPO_ROOT, 'models', name, 'train.sh');
  const dir = join(REPO_ROOT, 'models', name, version);

  it('is what its train.sh says, and the command still trains from the demo data', async () => {
    const commands = await scriptCommands(script);
    const train = commands.get('train')!;
    expect(train, `a train command in ${script}`).toBeDefined();
    const { manifest } = await loadModel(dir);
    expect(flag(train, '--out')).toBe(`models/${name}/${version}`);
    expect({
      cell: manifest.cell,
      hiddenSize: manifest.hiddenSize,
      numLayers: manifest.numLayers,
      horizon: manifest.horizon,
      features: manifest.features,
      targets: manifest.targets,
      targetMode: manifest.targetMode ?? 'level',
    }).toEqual({
      cell: flag(train, '--cell'),
      hiddenSize: Number(flag(train, '--hidden')),
      numLayers: Number(flag(train, '--layers')),
      horizon: Number(flag(train, '--horizon')),
      features: flag(train, '--features').split(','),
      targets: flag(train, '--targets').split(','),
      targetMode: flag(train, '--target-mode'),
    });

    // The same command, one epoch, into a scratch folder.
    const out = await tempDir();
    const run = await cli(withFlag(withFlag(['train', ...train], '--epochs', '1'), '--out', out));
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const trained = await loadModel(out);
    expect(trained.manifest.hiddenSize).toBe(manifest.hiddenSize);
  });

  it('scores as its committed eval.json says', async () => {
    const commands = await scriptCommands(script);
    const evalArgs = commands.get('eval')!;
    expect(evalArgs, `an eval command in ${script}`).toBeDefined();
    const plot = join(await tempDir(), 'eval.html');
    const run = await cli(withFlag(['eval', ...evalArgs], '--plot', plot));
    expect(run.code, run.stderr).toBe(0);
    const now = JSON.parse(run.stdout) as Record<string, unknown>;
    const committed = JSON.parse(await readFile(join(dir, 'eval.json'), 'utf8')) as Record<string, unknown>;
    // Forecasts come from the served kernel, whose last float32 bits may
    // differ between CPUs (fused multiply-add or not): compare to 1e-4.
    for (const metric of ['mae', 'rmse', 'skill'] as const) {
      const a = now[metric] as number[];
      const b = committed[metric] as number[];
      expect(a.length, metric).toBe(b.length);
      a.forEach((v, i) => expect(Math.abs(v - b[i]!), `${metric}[${i}]: ${v} vs ${b[i]}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(b[i]!))));
    }
    expect(now['count']).toEqual(committed['count']);
  });
});
