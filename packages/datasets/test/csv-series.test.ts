import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStreamcellError } from '@streamcell/protocol';
import { DEMO_DATASETS, SINGLE_SERIES_ID, demoDataset, readDemoDataset, readSeriesCsv } from '../src/index.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streamcell-datasets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function csv(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (isStreamcellError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a failure');
}

describe('readSeriesCsv', () => {
  it('splits rows into one series per group, in order of first appearance, keeping file order within a group', async () => {
    const file = await csv('groups.csv', 'id,b,a\nx,1,10\ny,2,20\nx,3,30\ny,4,40\nx,5,50\n');
    const set = await readSeriesCsv(file, { features: ['a', 'b'], targets: ['b'], groupColumn: 'id' });
    expect(set.series.map((s) => s.id)).toEqual(['x', 'y']);
    const [x, y] = set.series;
    expect(Array.from(x!.values)).toEqual([10, 1, 30, 3, 50, 5]);
    expect(Array.from(x!.lines)).toEqual([2, 4, 6]);
    expect(Array.from(y!.values)).toEqual([20, 2, 40, 4]);
    expect(set.targetIndex).toEqual([1]);
    expect(x!.times).toBeNull();
  });

  it('orders rows by the time column, stably, parsing ISO dates and numbers', async () => {
    const file = await csv('times.csv', 'date,v\n2020-01-03,3\n2020-01-01,1\n2020-01-02,2a\n'.replace('2a', '2'));
    const set = await readSeriesCsv(file, { features: ['v'], timeColumn: 'date' });
    const s = set.series[0]!;
    expect(s.id).toBe(SINGLE_SERIES_ID);
    expect(Array.from(s.values)).toEqual([1, 2, 3]);
    expect(Array.from(s.times!)).toEqual([Date.UTC(2020, 0, 1), Date.UTC(2020, 0, 2), Date.UTC(2020, 0, 3)]);
    const ties = await csv('ties.csv', 't,v\n5,1\n1,2\n5,3\n1,4\n');
    const tied = await readSeriesCsv(ties, { features: ['v'], timeColumn: 't' });
    expect(Array.from(tied.series[0]!.values)).toEqual([2, 4, 1, 3]);
  });

  it('names the file, line and column of a bad cell', async () => {
    const file = await csv('bad.csv', 'a,b\n1,2\n3,abc\n');
    expect(await failure(readSeriesCsv(file, { features: ['a', 'b'] }))).toEqual({
      code: 'input_invalid',
      message: `${file} line 3, column "b": "abc" is not a number`,
    });
    const empty = await csv('empty-cell.csv', 'b,a\n2,1\n\n3,\n');
    expect((await failure(readSeriesCsv(empty, { features: ['a', 'b'] }))).message).toContain('line 4, column "a": empty value');
    const time = await csv('bad-time.csv', 't,a\nyesterday,1\n');
    expect((await failure(readSeriesCsv(time, { features: ['a'], timeColumn: 't' }))).message).toContain('"yesterday" is neither a number nor an ISO-8601 date');
  });

  it('lists the columns the header has when one is missing', async () => {
    const file = await csv('missing.csv', 'a,b\n1,2\n');
    const f = await failure(readSeriesCsv(file, { features: ['a', 'c'], groupColumn: 'g' }));
    expect(f.code).toBe('input_invalid');
    expect(f.message).toBe(`${file}: no column(s) "c", "g"; the header has "a", "b"`);
  });

  it('refuses empty files, header-only files, directories and missing files', async () => {
    expect((await failure(readSeriesCsv(await csv('nothing.csv', ''), { features: ['a'] }))).message).toMatch(/empty, expected a header row/);
    expect((await failure(readSeriesCsv(await csv('header.csv', 'a\n'), { features: ['a'] }))).message).toMatch(/a header but no rows/);
    expect((await failure(readSeriesCsv(dir, { features: ['a'] }))).message).toMatch(/is a directory/);
    expect((await failure(readSeriesCsv(join(dir, 'absent.csv'), { features: ['a'] }))).message).toMatch(/no such file/);
  });

  it('refuses column flags that contradict each other before reading', async () => {
    const file = await csv('ok.csv', 'a,b\n1,2\n');
    expect(await failure(readSeriesCsv(file, { features: ['a'], targets: ['b'] }))).toEqual({
      code: 'usage',
      message: 'target(s) "b" must also be features (features: a)',
    });
    expect((await failure(readSeriesCsv(file, { features: ['a', 'a'] }))).message).toBe('feature "a" listed twice');
    expect((await failure(readSeriesCsv(file, { features: ['a'], groupColumn: 'a' }))).message).toBe('the group column "a" cannot also be a feature');
    expect((await failure(readSeriesCsv(file, { features: [] }))).code).toBe('usage');
  });
});

describe('demo data sets', () => {
  it('reads every demo data set from its npm package with its own columns', async () => {
    const sizes: Record<string, number[]> = {};
    for (const d of DEMO_DATASETS) {
      const set = await readDemoDataset(d.name);
      sizes[d.name] = set.series.map((s) => s.length);
      for (const s of set.series) expect(s.values.every(Number.isFinite)).toBe(true);
    }
    // Row counts of the published files (NOTES.md): 18,914 sensor readings over four motes.
    expect(sizes).toEqual({ sensor: [4417, 4417, 5039, 5041], stock: [5105], weather: [1461] });
  });

  it('names the known data sets when asked for another', () => {
    expect(() => demoDataset('tides')).toThrow('unknown demo data set "tides" (known: sensor, stock, weather)');
  });
});
