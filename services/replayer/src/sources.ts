/**
 * Where replayed events come from: a series set read from CSV (a demo data
 * set or the user's file) or synthetic signals. A source yields passes over
 * its data; each pass is in send order and keeps every stream's rows in
 * their order, so that keying by stream id is all Kafka needs to keep them
 * ordered.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEMO_DATASETS, demoDataset, readDemoDataset, readSeriesCsv, type SeriesColumns, type SeriesSet } from '@streamcell/datasets';
import { parseManifestText } from '@streamcell/model';
import { StreamcellError, checkStreamId, isStreamcellError } from '@streamcell/protocol';
import { seededRandom, type Random } from '@streamcell/rnn';

/** One event before encoding. `ts` is epoch ms. */
export interface ReplayEvent {
  readonly stream: string;
  readonly ts: number;
  readonly values: Readonly<Record<string, number>>;
}

/** A replayable source of events. */
export interface EventSource {
  /** One line for logs and the progress header. */
  readonly description: string;
  /** Stream ids, in the order their first events come. */
  readonly streams: readonly string[];
  /** Feature names every event carries. */
  readonly features: readonly string[];
  /** Events per pass, or null for an endless source (synthetic). */
  readonly eventsPerPass: number | null;
  /**
   * Pass `k` (0-based) over the data. Pass k+1's event times all come after
   * pass k's, stream by stream, so a looping replay never goes back in time
   * for a stream (the worker would refuse such events as out_of_order).
   */
  pass(k: number): Iterable<ReplayEvent>;
}

/** How stream ids of the demo data sets read: `sensor-mote-1`, `stock-sp500`, `weather-seattle`. */
export const DEMO_STREAM_IDS: Readonly<Record<string, (group: string) => string>> = {
  sensor: (group) => `sensor-mote-${group}`,
  stock: () => 'stock-sp500',
  weather: () => 'weather-seattle',
};

/** Names `replay --dataset` takes: the demo data sets and `synthetic`. */
export const DATASET_NAMES: readonly string[] = [...DEMO_DATASETS.map((d) => d.name), 'synthetic'];

/** Options of {@link seriesSource}. */
export interface SeriesSourceOptions {
  /** Stream id of a series from its group value (or the single series' id). */
  readonly streamId: (group: string) => string;
  /** Gap between consecutive rows when the data has no time column, ms. */
  readonly intervalMs: number;
  /** Time of the first row when the data has no time column, epoch ms. */
  readonly startMs: number;
  readonly description: string;
}

/**
 * A source over series read from CSV. Rows of all series are sent merged by
 * time (rows without a time column are `intervalMs` apart from `startMs`,
 * so the series interleave round-robin); ties keep series order, then row
 * order. Each later pass shifts every time by the whole span plus one
 * interval.
 */
export function seriesSource(set: SeriesSet, options: SeriesSourceOptions): EventSource {
  const { series, features } = set;
  const F = features.length;
  const ids = series.map((s) => options.streamId(s.id));
  ids.forEach((id, i) => {
    const bad = checkStreamId(id);
    if (bad) throw new StreamcellError('input_invalid', `${set.file}: series "${series[i]!.id}" gives an invalid stream id: ${bad.message}`);
  });
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) throw new StreamcellError('input_invalid', `${set.file}: two series map to the stream id "${dup}"`);

  // One ordering for every pass: (time, series, row), stable.
  const total = series.reduce((n, s) => n + s.length, 0);
  const times = new Float64Array(total);
  const seriesOf = new Uint32Array(total);
  const rowOf = new Uint32Array(total);
  let at = 0;
  series.forEach((s, si) => {
    for (let r = 0; r < s.length; r++, at++) {
      times[at] = s.times === null ? options.startMs + r * options.intervalMs : s.times[r]!;
      seriesOf[at] = si;
      rowOf[at] = r;
    }
  });
  const order = Array.from({ length: total }, (_, i) => i);
  // Array.prototype.sort is stable: equal times keep (series, row) order.
  order.sort((a, b) => times[a]! - times[b]!);
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const t of times) {
    first = Math.min(first, t);
    last = Math.max(last, t);
  }
  if (first < 0) throw new StreamcellError('input_invalid', `${set.file}: times before 1970 (${first}) cannot be event times`);
  const shift = last - first + options.intervalMs;

  return {
    description: options.description,
    streams: [...new Set(order.map((i) => ids[seriesOf[i]!]!))],
    features,
    eventsPerPass: total,
    *pass(k: number): Iterable<ReplayEvent> {
      const offset = k * shift;
      for (const i of order) {
        const s = series[seriesOf[i]!]!;
        const r = rowOf[i]!;
        const values: Record<string, number> = {};
        for (let f = 0; f < F; f++) values[features[f]!] = s.values[r * F + f]!;
        yield { stream: ids[seriesOf[i]!]!, ts: times[i]! + offset, values };
      }
    },
  };
}

/** Options of {@link syntheticSource}. */
export interface SyntheticOptions {
  readonly streams: number;
  readonly features: readonly string[];
  /** Per feature: the level the signal moves around and its typical swing (a model's scaler gives both). */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  readonly seed: number;
  readonly intervalMs: number;
  readonly startMs: number;
}

/** A standard normal draw (Box-Muller) from a uniform generator. */
function gaussian(rand: Random): number {
  const u = 1 - rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/**
 * N streams `synthetic-0000`... of sine + noise + drift, one value per
 * feature, endless. Per stream and feature, seeded: a period of 20 to 200
 * steps, a phase, an amplitude of 0.5 to 1.5 std; Gaussian noise of 0.1 std;
 * and a drift that wanders (a mean-reverting random walk, so it moves the
 * level for hundreds of steps yet never runs off to infinity in a long run).
 * Step t of every stream is sent before step t+1 of any, `intervalMs` apart.
 */
export function syntheticSource(options: SyntheticOptions): EventSource {
  const { streams: N, features, mean, std } = options;
  const F = features.length;
  const rand = seededRandom(options.seed);
  const period = new Float64Array(N * F);
  const phase = new Float64Array(N * F);
  const amplitude = new Float64Array(N * F);
  for (let i = 0; i < N * F; i++) {
    period[i] = 20 + rand() * 180;
    phase[i] = rand() * 2 * Math.PI;
    amplitude[i] = 0.5 + rand();
  }
  const width = Math.max(4, String(N - 1).length);
  const ids = Array.from({ length: N }, (_, i) => `synthetic-${String(i).padStart(width, '0')}`);
  return {
    description: `synthetic: ${N} streams of sine + noise + drift (${features.join(', ')}), seed ${options.seed}`,
    streams: ids,
    features,
    eventsPerPass: null,
    *pass(): Iterable<ReplayEvent> {
      const drift = new Float64Array(N * F);
      for (let t = 0; ; t++) {
        const ts = options.startMs + t * options.intervalMs;
        for (let s = 0; s < N; s++) {
          const values: Record<string, number> = {};
          for (let f = 0; f < F; f++) {
            const i = s * F + f;
            drift[i] = 0.999 * drift[i]! + 0.02 * gaussian(rand);
            const z = amplitude[i]! * Math.sin((2 * Math.PI * t) / period[i]! + phase[i]!) + drift[i] + 0.1 * gaussian(rand);
            // Six significant digits: what a sensor reports, and a third of the bytes of a full double.
            values[features[f]!] = Number((mean[f]! + std[f]! * z).toPrecision(6));
          }
          yield { stream: ids[s]!, ts, values };
        }
      }
    },
  };
}

/** Features and scale of a model directory's manifest, so synthetic events fit that model. */
export async function modelFeatures(dir: string): Promise<{ features: readonly string[]; mean: readonly number[]; std: readonly number[]; name: string }> {
  const file = join(dir, 'model.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new StreamcellError('input_invalid', `${file}: cannot read (${code === 'ENOENT' ? 'no such file; --model takes a model version directory such as models/weather/1' : (err as Error).message})`, { cause: err });
  }
  const m = parseManifestText(text, file);
  const F = m.features.length;
  return {
    name: m.name,
    features: m.features,
    mean: m.scaler?.mean ?? new Array<number>(F).fill(0),
    std: m.scaler?.std ?? new Array<number>(F).fill(1),
  };
}

/** What {@link openSource} needs to know. */
export interface SourceSpec {
  /** A demo data set name or `synthetic`; exclusive with `data`. */
  readonly dataset?: string;
  /** A CSV file; exclusive with `dataset`. */
  readonly data?: string;
  /** Column flags for `data` (or to override a demo data set's columns). */
  readonly columns?: Partial<SeriesColumns>;
  readonly streamPrefix?: string;
  readonly intervalMs?: number;
  readonly startMs: number;
  readonly synthetic: { readonly streams: number; readonly seed: number; readonly modelDir?: string; readonly features?: readonly string[] };
}

/** Opens the source a replay configuration names; every fault is a StreamcellError that says what to change. */
export async function openSource(spec: SourceSpec): Promise<EventSource> {
  if (spec.dataset === 'synthetic') {
    const { streams, seed, modelDir, features } = spec.synthetic;
    let scale: { features: readonly string[]; mean: readonly number[]; std: readonly number[] };
    if (modelDir !== undefined) scale = await modelFeatures(modelDir);
    else if (features !== undefined && features.length > 0) scale = { features, mean: features.map(() => 0), std: features.map(() => 1) };
    else throw new StreamcellError('usage', 'synthetic data needs --model DIR (features and scale from its manifest) or --features a,b,c');
    return syntheticSource({ streams, seed, features: scale.features, mean: scale.mean, std: scale.std, intervalMs: spec.intervalMs ?? 1000, startMs: spec.startMs });
  }
  if (spec.dataset !== undefined) {
    const demo = demoDataset(spec.dataset);
    const columns: SeriesColumns = { ...demo.columns, ...definedOnly(spec.columns ?? {}) };
    const set = await readDemoDataset(demo.name, columns);
    const prefix = spec.streamPrefix;
    const naming = DEMO_STREAM_IDS[demo.name] ?? ((g: string) => `${demo.name}-${g}`);
    return seriesSource(set, {
      streamId: prefix === undefined ? naming : (g) => (set.series.length === 1 ? prefix : `${prefix}-${g}`),
      intervalMs: spec.intervalMs ?? demo.intervalMs,
      startMs: spec.startMs,
      description: `${demo.name}: ${demo.description} (${demo.source.package}, ${demo.source.license})`,
    });
  }
  if (spec.data === undefined) throw new StreamcellError('usage', `say what to replay: --dataset ${DATASET_NAMES.join('|')} or --data FILE.csv`);
  const columns = spec.columns ?? {};
  if (columns.features === undefined || columns.features.length === 0) throw new StreamcellError('usage', '--data needs --features a,b,c (the CSV columns to send, by name)');
  const set = await readSeriesCsv(spec.data, { ...definedOnly(columns), features: columns.features });
  const base = spec.data.replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '');
  const prefix = spec.streamPrefix ?? base;
  try {
    return seriesSource(set, {
      streamId: (g) => (columns.groupColumn === undefined ? prefix : `${prefix}-${g}`),
      intervalMs: spec.intervalMs ?? 1000,
      startMs: spec.startMs,
      description: `${spec.data}: ${set.series.length} series, ${set.series.reduce((n, s) => n + s.length, 0)} rows`,
    });
  } catch (err) {
    if (isStreamcellError(err)) throw err;
    throw new StreamcellError('input_invalid', `${spec.data}: ${(err as Error).message}`, { cause: err });
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
