import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelCatalog, compareVersions, routeModel } from '../src/catalog.ts';
import { loadModel } from '../src/artifact.ts';

/** The repository's weather model, version 1 (a real artifact to copy in). */
const WEATHER_1 = join(import.meta.dirname, '..', '..', '..', 'models', 'weather', '1');

/** A catalog over `dir` that loads real artifacts, with what it reported. */
function realCatalog(dir: string): { catalog: ModelCatalog<{ name: string; version: string }>; refused: string[]; loaded: string[] } {
  const refused: string[] = [];
  const loaded: string[] = [];
  const catalog = new ModelCatalog({
    dir,
    load: async (path, name, version) => {
      const { manifest } = await loadModel(path);
      if (manifest.name !== name || manifest.version !== version) throw new Error(`name/version ${manifest.name}/${manifest.version} do not match ${name}/${version}`);
      return { name, version };
    },
    onLoaded: (e) => loaded.push(`${e.name}/${e.version}`),
    onRefused: (name, version) => refused.push(`${name}/${version}`),
  });
  return { catalog, refused, loaded };
}

describe('routeModel', () => {
  const routes = { topicModels: new Map([['sensors', 'sensor-lstm']]), defaultModel: undefined };
  const one = new Map([['only', {}]]);
  const two = new Map([
    ['a', {}],
    ['b', {}],
  ]);

  it('takes the event\'s model, else the topic\'s route, else the default, else the only model', () => {
    expect(routeModel('mine', 'sensors', routes, two)).toBe('mine');
    expect(routeModel(undefined, 'sensors', routes, two)).toBe('sensor-lstm');
    expect(routeModel(undefined, 'other', { ...routes, defaultModel: 'b' }, two)).toBe('b');
    expect(routeModel(undefined, 'other', routes, one)).toBe('only');
    expect(routeModel(undefined, 'other', routes, two)).toBeUndefined();
  });
});

describe('ModelCatalog', () => {
  it('serves the newest version that loads, reports each refusal once, and never replaces a working one with a broken one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
    for (const v of ['1', '2', '10']) mkdirSync(join(dir, 'm', v), { recursive: true });
    const refused: string[] = [];
    const loaded: string[] = [];
    const catalog = new ModelCatalog({
      dir,
      load: (_path, name, version) => (version === '10' ? Promise.reject(new Error('broken')) : Promise.resolve({ name, version })),
      onLoaded: (e) => loaded.push(`${e.name}/${e.version}`),
      onRefused: (name, version) => refused.push(`${name}/${version}`),
    });
    await catalog.scan();
    expect(catalog.snapshot().get('m')?.version).toBe('2');
    await catalog.scan();
    expect(refused).toEqual(['m/10']);
    expect(loaded).toEqual(['m/2']);
    rmSync(dir, { recursive: true });
    expect(['10', '2024-06-01', '9', '2024-05-30'].sort(compareVersions)).toEqual(['9', '10', '2024-05-30', '2024-06-01']);
  });

  it('retries a version that failed once its files change: a folder scanned mid-copy is picked up when the files arrive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
    try {
      const { catalog, refused, loaded } = realCatalog(dir);
      // The copy has made the folder but no files yet.
      mkdirSync(join(dir, 'weather', '1'), { recursive: true });
      await catalog.scan();
      expect(catalog.snapshot().get('weather')).toBeUndefined();
      expect(refused).toEqual(['weather/1']);
      // Nothing changed: not loaded again, not reported again.
      await catalog.scan();
      expect(refused).toEqual(['weather/1']);
      // The files arrive: the next scan serves the version.
      cpSync(WEATHER_1, join(dir, 'weather', '1'), { recursive: true });
      await catalog.scan();
      expect(catalog.snapshot().get('weather')?.version).toBe('1');
      expect(loaded).toEqual(['weather/1']);
      expect(refused).toEqual(['weather/1']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('retries a version fixed in place, reporting each distinct failure once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
    try {
      const { catalog, refused, loaded } = realCatalog(dir);
      cpSync(WEATHER_1, join(dir, 'weather', '1'), { recursive: true });
      const v2 = join(dir, 'weather', '2');
      cpSync(WEATHER_1, v2, { recursive: true });
      const manifest = JSON.parse(readFileSync(join(v2, 'model.json'), 'utf8')) as Record<string, unknown>;
      // Version 2 says it is version 1: refused, version 1 serves.
      await catalog.scan();
      await catalog.scan();
      expect(catalog.snapshot().get('weather')?.version).toBe('1');
      expect(refused).toEqual(['weather/2']);
      // Now named right but with broken weights: a new state, one more report, however many scans.
      const weights = readFileSync(join(v2, 'weights.safetensors'));
      writeFileSync(join(v2, 'model.json'), JSON.stringify({ ...manifest, version: '2' }));
      writeFileSync(join(v2, 'weights.safetensors'), 'garbage');
      await catalog.scan();
      await catalog.scan();
      expect(refused).toEqual(['weather/2', 'weather/2']);
      expect(catalog.snapshot().get('weather')?.version).toBe('1');
      // Fixed in place: served on the next scan.
      writeFileSync(join(v2, 'weights.safetensors'), weights);
      const later = new Date(Date.now() + 5_000);
      utimesSync(join(v2, 'weights.safetensors'), later, later);
      await catalog.scan();
      expect(catalog.snapshot().get('weather')?.version).toBe('2');
      expect(loaded).toEqual(['weather/1', 'weather/2']);
      expect(refused).toEqual(['weather/2', 'weather/2']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
