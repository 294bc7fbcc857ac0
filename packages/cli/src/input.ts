import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { parseDecimalCell } from '@streamcell/datasets';
import { StreamcellError, isStreamcellError } from '@streamcell/protocol';

/** Input file formats `predict` reads. */
export const INPUT_FORMATS = ['jsonl', 'csv'] as const;

/** One of {@link INPUT_FORMATS}. */
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** One event's raw feature values, in manifest feature order. */
export interface InputRow {
  /** 1-based line in the input file (the last line of a multi-line CSV record). */
  readonly line: number;
  readonly values: Float64Array;
}

/** `-` names standard input. */
export const STDIN = '-';

function invalid(message: string, cause?: unknown): StreamcellError {
  return new StreamcellError('input_invalid', message, cause === undefined ? {} : { cause });
}

/**
 * Picks the format from the file name, else from the first non-blank
 * character (`{` means JSONL). Standard input defaults to JSONL because it
 * cannot be peeked without consuming it.
 */
export async function detectFormat(file: string): Promise<InputFormat> {
  if (file === STDIN) return 'jsonl';
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  await checkReadable(file);
  const handle = await open(file, 'r').catch((err: unknown) => {
    throw invalid(`${file}: cannot open (${(err as Error).message})`, err);
  });
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const head = buffer.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '').trimStart();
    return head.startsWith('{') ? 'jsonl' : 'csv';
  } finally {
    await handle.close();
  }
}

async function checkReadable(file: string): Promise<void> {
  let info;
  try {
    info = await stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw invalid(`${file}: cannot read (${code === 'ENOENT' ? 'no such file' : (err as Error).message})`, err);
  }
  if (info.isDirectory()) throw invalid(`${file}: is a directory, expected a JSONL or CSV file`);
}

async function openStream(file: string): Promise<Readable> {
  if (file === STDIN) return process.stdin;
  await checkReadable(file);
  return createReadStream(file);
}

function parseNumber(value: unknown, where: () => string): number {
  if (typeof value !== 'number') throw invalid(`${where()}: ${JSON.stringify(value) ?? 'undefined'} is not a number`);
  // JSON.parse turns 1e400 into Infinity; the cell would carry it forever.
  if (!Number.isFinite(value)) throw invalid(`${where()}: ${value} is not finite`);
  return value;
}

/**
 * Reads JSONL events: `{"values": [...]}` in feature order, or
 * `{"values": {"feature": value}}` keyed by feature name. Other keys on the
 * line (`stream`, `ts`, ...) are ignored so event logs can be replayed as is;
 * keyed values must name exactly the model's features, as events must online.
 */
export async function* readJsonl(file: string, features: readonly string[]): AsyncGenerator<InputRow> {
  const input = await openStream(file);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) {
      line++;
      const at = `${file} line ${line}`;
      const trimmed = line === 1 ? text.replace(/^\uFEFF/, '').trim() : text.trim();
      if (trimmed === '') continue;
      let event: unknown;
      try {
        event = JSON.parse(trimmed);
      } catch (err) {
        throw invalid(`${at}: invalid JSON (${(err as Error).message})`, err);
      }
      if (typeof event !== 'object' || event === null || Array.isArray(event) || !('values' in event)) {
        throw invalid(`${at}: expected an object with "values"`);
      }
      yield { line, values: valuesOf(event.values, features, at) };
    }
  } catch (err) {
    if (isStreamcellError(err)) throw err;
    // readline rethrows the stream's own read errors (EISDIR, EIO, ...).
    throw invalid(`${file}: cannot read (${(err as Error).message})`, err);
  } finally {
    lines.close();
    if (file !== STDIN) input.destroy();
  }
}

function valuesOf(raw: unknown, features: readonly string[], at: string): Float64Array {
  const values = new Float64Array(features.length);
  if (Array.isArray(raw)) {
    if (raw.length !== features.length) {
      throw invalid(`${at}: "values" has ${raw.length} entries, the model has ${features.length} features`);
    }
    raw.forEach((v, i) => (values[i] = parseNumber(v, () => `${at}: values[${i}] (${features[i]})`)));
    return values;
  }
  if (typeof raw !== 'object' || raw === null) {
    throw invalid(`${at}: "values" must be an array or an object keyed by feature name`);
  }
  const record = raw as Record<string, unknown>;
  const missing = features.filter((f) => !Object.hasOwn(record, f));
  if (missing.length > 0) throw invalid(`${at}: missing feature(s) ${missing.map((f) => `"${f}"`).join(', ')}`);
  const unknown = Object.keys(record).filter((k) => !features.includes(k));
  if (unknown.length > 0) throw invalid(`${at}: unknown feature(s) ${unknown.map((f) => `"${f}"`).join(', ')}`);
  features.forEach((f, i) => (values[i] = parseNumber(record[f], () => `${at}: "${f}"`)));
  return values;
}

/**
 * Reads CSV with a header row. Columns are matched to the manifest's features
 * by name (extra columns such as timestamps are ignored; missing ones are an
 * error naming them), so column order in the file does not matter.
 */
export async function* readCsv(file: string, features: readonly string[]): AsyncGenerator<InputRow> {
  const input = await openStream(file);
  const parser = parse({ bom: true, info: true, skip_empty_lines: true, trim: true });
  input.once('error', (err) => parser.destroy(invalid(`${file}: cannot read (${err.message})`, err)));
  input.pipe(parser);
  let columns: number[] | undefined;
  let names: string[] = [];
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const { record, info } = item;
      if (columns === undefined) {
        names = record;
        columns = features.map((f) => names.indexOf(f));
        const missing = features.filter((_, i) => columns![i] === -1);
        if (missing.length > 0) {
          throw invalid(`${file}: header lacks column(s) ${missing.map((f) => `"${f}"`).join(', ')} required by the model`);
        }
        const twice = features.find((f) => names.indexOf(f) !== names.lastIndexOf(f));
        if (twice !== undefined) throw invalid(`${file}: header has column "${twice}" more than once`);
        continue;
      }
      const values = new Float64Array(features.length);
      for (let i = 0; i < features.length; i++) {
        values[i] = parseDecimalCell(record[columns[i]!] ?? '', `${file} line ${info.lines}, column "${features[i]}"`);
      }
      yield { line: info.lines, values };
    }
  } catch (err) {
    if (isStreamcellError(err)) throw err;
    // csv-parse errors (ragged rows, bad quoting) carry the line in their message.
    throw invalid(`${file}: ${(err as Error).message}`, err);
  } finally {
    if (file !== STDIN) input.destroy();
  }
  if (columns === undefined) throw invalid(`${file}: empty, expected a header row`);
}

/** Reads `file` in `format` (detected when omitted) as rows in the order of `features`. */
export async function* readInputRows(
  file: string,
  features: readonly string[],
  format?: InputFormat,
): AsyncGenerator<InputRow> {
  const chosen = format ?? (await detectFormat(file));
  yield* chosen === 'csv' ? readCsv(file, features) : readJsonl(file, features);
}
