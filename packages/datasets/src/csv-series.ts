import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parse } from 'csv-parse';
import { StreamcellError, isStreamcellError } from '@streamcell/protocol';

/** Which columns of a CSV file make the series, as the `--features/--targets/--time-column/--group-column` flags say. */
export interface SeriesColumns {
  /** Input columns, in model feature order. */
  readonly features: readonly string[];
  /** Forecast columns; each must also be a feature. Default: none. */
  readonly targets?: readonly string[];
  /** Rows of a group are ordered by this column (epoch ms, any number, or an ISO-8601 date) instead of file order. */
  readonly timeColumn?: string;
  /** One series per distinct value of this column; without it the whole file is one series. */
  readonly groupColumn?: string;
}

/** One time series read from a CSV file. */
export interface Series {
  /** The group value, or {@link SINGLE_SERIES_ID} without a group column. */
  readonly id: string;
  readonly length: number;
  /** [length x features], row-major, in feature order. */
  readonly values: Float64Array;
  /** The time column in epoch ms (ISO dates parsed, numbers kept as they are), or null without one. */
  readonly times: Float64Array | null;
  /** 1-based line of each row in the file, to point at it in messages. */
  readonly lines: Uint32Array;
}

/** Every series of a file with the columns they were read with. */
export interface SeriesSet {
  readonly file: string;
  readonly features: readonly string[];
  readonly targets: readonly string[];
  /** Position of each target among the features. */
  readonly targetIndex: readonly number[];
  /** In order of first appearance of their group value. */
  readonly series: readonly Series[];
}

/** Id of the one series of a file read without a group column. */
export const SINGLE_SERIES_ID = 'series';

function invalid(message: string, cause?: unknown): StreamcellError {
  return new StreamcellError('input_invalid', message, cause === undefined ? {} : { cause });
}

function usage(message: string): StreamcellError {
  return new StreamcellError('usage', message);
}

// Plain decimal notation only: Number() would also take "0x1F", "" and "Infinity".
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** True for a number in plain decimal notation ("12", "-0.5", "1e-3"); false for "", "0x1F", "Infinity" and the like. */
export function isPlainDecimal(text: string): boolean {
  return DECIMAL.test(text);
}

/**
 * One numeric CSV cell, strictly: plain decimal notation and finite. `at`
 * names the place for the message (file, line and column).
 */
export function parseDecimalCell(cell: string, at: string): number {
  if (cell === '') throw invalid(`${at}: empty value`);
  if (!DECIMAL.test(cell)) throw invalid(`${at}: ${JSON.stringify(cell)} is not a number`);
  const v = Number(cell);
  if (!Number.isFinite(v)) throw invalid(`${at}: ${cell} is not finite`);
  return v;
}

/** A time cell: a plain number (epoch ms or any monotone count) or an ISO-8601 date/time. */
export function parseTimeCell(cell: string, at: string): number {
  if (cell === '') throw invalid(`${at}: empty time`);
  if (DECIMAL.test(cell)) return Number(cell);
  // Date.parse also takes free-form English dates; insist on ISO-8601's shape.
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(cell) ? Date.parse(cell) : Number.NaN;
  if (!Number.isFinite(ms)) throw invalid(`${at}: ${JSON.stringify(cell)} is neither a number nor an ISO-8601 date`);
  return ms;
}

/** Checks the column flags on their own, before any file is read. */
export function checkColumns(columns: SeriesColumns): void {
  const { features, targets = [] } = columns;
  if (features.length === 0) throw usage('no feature columns given');
  const twice = features.find((f, i) => features.indexOf(f) !== i);
  if (twice !== undefined) throw usage(`feature "${twice}" listed twice`);
  const stray = targets.filter((t) => !features.includes(t));
  if (stray.length > 0) {
    throw usage(`target(s) ${stray.map((t) => `"${t}"`).join(', ')} must also be features (features: ${features.join(', ')})`);
  }
  const twiceTarget = targets.find((t, i) => targets.indexOf(t) !== i);
  if (twiceTarget !== undefined) throw usage(`target "${twiceTarget}" listed twice`);
  for (const [flag, name] of [
    ['time column', columns.timeColumn],
    ['group column', columns.groupColumn],
  ] as const) {
    if (name !== undefined && features.includes(name)) throw usage(`the ${flag} "${name}" cannot also be a feature`);
  }
}

interface Growing {
  id: string;
  values: number[];
  times: number[];
  lines: number[];
}

/**
 * Reads a CSV file with a header row into one series per group value (file
 * order within a group, or time order, stable, when a time column is given).
 * Columns are found by name, so their order in the file does not matter.
 * Every fault names the file, line and column: a missing column (listing
 * those there are), an empty or non-numeric cell, a bad time.
 */
export async function readSeriesCsv(file: string, columns: SeriesColumns): Promise<SeriesSet> {
  checkColumns(columns);
  const { features, targets = [], timeColumn, groupColumn } = columns;
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw invalid(`${file}: is a directory, expected a CSV file`);
  } catch (err) {
    if (isStreamcellError(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw invalid(`${file}: cannot read (${code === 'ENOENT' ? 'no such file' : (err as Error).message})`, err);
  }

  const input = createReadStream(file);
  const parser = parse({ bom: true, info: true, skip_empty_lines: true, trim: true });
  input.once('error', (err) => parser.destroy(invalid(`${file}: cannot read (${err.message})`, err)));
  input.pipe(parser);

  const groups = new Map<string, Growing>();
  let featureCols: number[] | undefined;
  let timeCol = -1;
  let groupCol = -1;
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const { record, info: where } = item;
      if (featureCols === undefined) {
        const names = record;
        const find = (name: string): number => names.indexOf(name);
        const wanted = [...features, ...(timeColumn === undefined ? [] : [timeColumn]), ...(groupColumn === undefined ? [] : [groupColumn])];
        const missing = wanted.filter((name) => find(name) === -1);
        if (missing.length > 0) {
          throw invalid(`${file}: no column(s) ${missing.map((m) => `"${m}"`).join(', ')}; the header has ${names.map((n) => `"${n}"`).join(', ')}`);
        }
        const twice = wanted.find((name) => names.indexOf(name) !== names.lastIndexOf(name));
        if (twice !== undefined) throw invalid(`${file}: the header has column "${twice}" more than once`);
        featureCols = features.map(find);
        timeCol = timeColumn === undefined ? -1 : find(timeColumn);
        groupCol = groupColumn === undefined ? -1 : find(groupColumn);
        continue;
      }
      const line = where.lines;
      const id = groupCol === -1 ? SINGLE_SERIES_ID : (record[groupCol] ?? '');
      if (id === '') throw invalid(`${file} line ${line}, column "${groupColumn}": empty group value`);
      let group = groups.get(id);
      if (group === undefined) {
        group = { id, values: [], times: [], lines: [] };
        groups.set(id, group);
      }
      for (let i = 0; i < featureCols.length; i++) {
        group.values.push(parseDecimalCell(record[featureCols[i]!] ?? '', `${file} line ${line}, column "${features[i]}"`));
      }
      if (timeCol !== -1) group.times.push(parseTimeCell(record[timeCol] ?? '', `${file} line ${line}, column "${timeColumn}"`));
      group.lines.push(line);
    }
  } catch (err) {
    if (isStreamcellError(err)) throw err;
    // csv-parse errors (ragged rows, bad quoting) carry the line in their message.
    throw invalid(`${file}: ${(err as Error).message}`, err);
  } finally {
    input.destroy();
  }
  if (featureCols === undefined) throw invalid(`${file}: empty, expected a header row`);
  if (groups.size === 0) throw invalid(`${file}: a header but no rows`);

  const F = features.length;
  const series = [...groups.values()].map((g): Series => {
    const n = g.lines.length;
    const order = Array.from({ length: n }, (_, i) => i);
    // Array.prototype.sort is stable, so rows with equal times keep file order.
    if (timeCol !== -1) order.sort((a, b) => g.times[a]! - g.times[b]!);
    const values = new Float64Array(n * F);
    const lines = new Uint32Array(n);
    const times = timeCol === -1 ? null : new Float64Array(n);
    order.forEach((from, to) => {
      for (let f = 0; f < F; f++) values[to * F + f] = g.values[from * F + f]!;
      lines[to] = g.lines[from]!;
      if (times !== null) times[to] = g.times[from]!;
    });
    return { id: g.id, length: n, values, times, lines };
  });
  return { file, features: [...features], targets: [...targets], targetIndex: targets.map((t) => features.indexOf(t)), series };
}
