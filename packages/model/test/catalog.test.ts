import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelCatalog, compareVersions, routeModel } from '../src/catalog.ts';

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
});
