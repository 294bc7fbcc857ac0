/**
 * The model folder most tests serve: a copy of models/weather/1 alone.
 *
 * The repository's models/ holds several models (weather, sensor, stock) and
 * versions (the worker serves the highest). Tests that send events naming no
 * model, or that compute expected forecasts with the PyTorch-trained
 * weather/1, need that version to be the only model served. One copy per
 * test process, removed when the process exits.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** models/weather/1 in the repository. */
export const WEATHER_V1_DIR = join(REPO_ROOT, 'models', 'weather', '1');

let dir: string | undefined;

/** A models folder (`weather/1/...`) holding only models/weather/1; made on first call. */
export function weatherOnlyModelsDir(): string {
  if (dir === undefined) {
    const made = mkdtempSync(join(tmpdir(), 'streamcell-models-'));
    cpSync(WEATHER_V1_DIR, join(made, 'weather', '1'), { recursive: true });
    process.once('exit', () => rmSync(made, { recursive: true, force: true }));
    dir = made;
  }
  return dir;
}
