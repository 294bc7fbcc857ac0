import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { demoDataset, demoDatasetFile } from '@streamcell/datasets';
import type { DemoDataset } from '@streamcell/datasets';
import { loadModel } from '@streamcell/model';
import type { Manifest } from '@streamcell/model';
import { StreamcellError } from '@streamcell/protocol';
import { parseOptions } from '../args.ts';
import { evaluateModel } from '../eval/evaluate.ts';
import type { EvalSettings } from '../eval/evaluate.ts';
import { evalHtml } from '../eval/report.ts';
import { integerFlag, listFlag, numberFlag } from '../flags.ts';
import type { Command } from './types.ts';

const HELP = `Usage: streamcell eval --model DIR (--data FILE.csv | --dataset NAME) [options]

Steps the model online through every series of the file, from a zero state,
exactly as the worker would (same kernel, same scaler: what 'predict'
prints), and scores the forecasts made at the rows after the first --from
share of each series against the actual values, next to two baselines:
persistence ("naive": y[t+k] forecast as y[t]) and, with --season, the
seasonal naive forecast (y[t+k] as y[t+k-season], whole seasons back
when k > season).

Prints one JSON object: per horizon step (arrays, index 0 = 1 step ahead)
  mae, rmse      mean over targets of each target's error divided by its
                 scaler std (the model's scaled units, so targets in different
                 units weigh alike)
  smape          symmetric MAPE in percent (0..200), mean over targets
  mase           MAE / in-sample one-step naive MAE (rows before --from), mean
                 over targets
  skill          1 - mae / naive.mae (> 0: better than persistence)
  naive, seasonal_naive   the same metrics for the baselines
  per_target     every metric per target in raw units, with its own skill
  count          forecast origins scored per step
and writes a plot of actual against forecast (self-contained HTML with SVG).

Options:
  -m, --model DIR         model directory
      --data FILE         CSV file with a header row
      --dataset NAME      a demo data set instead: sensor, stock or weather
      --features A,B      CSV columns for the model's features, in its order
                          (default: the model's feature names)
      --targets A         score only these targets (CSV names; default: all)
      --time-column C     order rows by this column (default: the one the model
                          was trained with, if recorded)
      --group-column C    one series per value (default: as trained, if recorded)
      --from F            share of each series before the scored part, in (0, 1)
                          (default: the --train-fraction the model was trained
                          with, if recorded, else 0.8), so that by default only
                          rows the model never saw are scored
      --season N          rows per season for the seasonal naive baseline
                          (default: the demo data set's season, if any)
      --plot FILE         where to write the plot (default DIR/eval.html)
      --plot-series ID    which series to plot (default: the first)
  -h, --help              show this help

Exit status: 0 on success, 2 on a usage error, 1 on any other error.
`;

const OPTIONS = {
  model: { type: 'string', short: 'm' },
  data: { type: 'string' },
  dataset: { type: 'string' },
  features: { type: 'string' },
  targets: { type: 'string' },
  'time-column': { type: 'string' },
  'group-column': { type: 'string' },
  from: { type: 'string' },
  season: { type: 'string' },
  plot: { type: 'string' },
  'plot-series': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(message: string): StreamcellError {
  return new StreamcellError('usage', message);
}

/** The time and group columns the model was trained with, as `train` records them in the manifest's metadata. */
function trainedColumns(manifest: Manifest): { timeColumn?: string; groupColumn?: string } {
  const columns = manifest.metadata?.['columns'];
  if (typeof columns !== 'object' || columns === null) return {};
  const { timeColumn, groupColumn } = columns as Record<string, unknown>;
  return {
    ...(typeof timeColumn === 'string' ? { timeColumn } : {}),
    ...(typeof groupColumn === 'string' ? { groupColumn } : {}),
  };
}

/** The train fraction `train` recorded in the manifest's metadata, if any. */
function trainedFraction(manifest: Manifest): number | undefined {
  const split = manifest.metadata?.['split'];
  if (typeof split !== 'object' || split === null) return undefined;
  const fraction = (split as Record<string, unknown>)['trainFraction'];
  return typeof fraction === 'number' && fraction > 0 && fraction < 1 ? fraction : undefined;
}

/** Resolves `eval`'s flags against the loaded model's manifest. */
export function evalSettings(o: ReturnType<typeof parseOptions<typeof OPTIONS>>, manifest: Manifest): EvalSettings {
  if (o.data !== undefined && o.dataset !== undefined) throw usage('give --data FILE or --dataset NAME, not both');
  const demo: DemoDataset | undefined = o.dataset === undefined ? undefined : demoDataset(o.dataset);
  const file = demo === undefined ? o.data : demoDatasetFile(demo);
  if (file === undefined) throw usage('missing --data FILE.csv (or --dataset sensor|stock|weather)');
  const features = listFlag('features', o.features) ?? [...manifest.features];
  if (features.length !== manifest.inputSize) {
    throw usage(`--features lists ${features.length} columns; the model has ${manifest.inputSize} features (${manifest.features.join(', ')})`);
  }
  // The model's targets under the CSV's names (--features may rename columns).
  const csvTargets = manifest.targets.map((t) => features[manifest.features.indexOf(t)]!);
  const wanted = listFlag('targets', o.targets) ?? csvTargets;
  const scoredTargets = wanted.map((name) => {
    const j = csvTargets.indexOf(name);
    if (j === -1) throw usage(`--targets: "${name}" is not one of the model's targets (${csvTargets.join(', ')})`);
    return j;
  });
  if (new Set(scoredTargets).size !== scoredTargets.length) throw usage('--targets lists a target twice');
  const trained = trainedColumns(manifest);
  const timeColumn = o['time-column'] ?? demo?.columns.timeColumn ?? trained.timeColumn;
  const groupColumn = o['group-column'] ?? demo?.columns.groupColumn ?? trained.groupColumn;
  const seasonDefault = demo?.season;
  const season = o.season === undefined ? seasonDefault : integerFlag('season', o.season, 1, { min: 1 });
  return {
    file,
    columns: {
      features,
      targets: csvTargets,
      ...(timeColumn === undefined ? {} : { timeColumn }),
      ...(groupColumn === undefined ? {} : { groupColumn }),
    },
    scoredTargets,
    from: numberFlag('from', o.from, trainedFraction(manifest) ?? 0.8, { min: 0, max: 1, minOpen: true, maxOpen: true }),
    ...(season === undefined ? {} : { season }),
  };
}

/** Rounds to 6 significant digits: the scores are estimates, and the JSON stays readable. */
function rounded(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isInteger(value) ? Number(value.toPrecision(6)) : value;
}

/** `streamcell eval`: online forecasts scored against persistence and seasonal naive baselines. */
export const evalCommand: Command = {
  name: 'eval',
  summary: 'score a model online on a CSV file against naive baselines, with a plot',
  help: HELP,
  async run(args, io) {
    const o = parseOptions(args, OPTIONS);
    if (o.help === true) {
      io.stdout.write(HELP);
      return;
    }
    if (o.model === undefined) throw usage('missing --model DIR');
    const model = await loadModel(o.model);
    const settings = evalSettings(o, model.manifest);
    const evaluation = await evaluateModel(model, settings);
    const plotted = o['plot-series'] === undefined ? evaluation.series[0] : evaluation.series.find((s) => s.series.id === o['plot-series']);
    if (plotted === undefined) {
      throw usage(`--plot-series: no series "${o['plot-series']}" (series: ${evaluation.series.map((s) => s.series.id).join(', ')})`);
    }
    const plot = o.plot ?? join(o.model, 'eval.html');
    const { manifest } = model;
    try {
      // The scored rows were held out from training only if they start at or after the part it trained on.
      const trained = trainedFraction(manifest);
      const heldOut = trained !== undefined && settings.from >= trained;
      await writeFile(plot, evalHtml(evaluation, manifest, plotted, `Evaluation: ${manifest.name} ${manifest.version}`, heldOut, settings.columns.groupColumn));
    } catch (err) {
      throw new StreamcellError('input_invalid', `${plot}: cannot write the plot (${(err as Error).message})`, { cause: err });
    }
    const rows = evaluation.series.reduce((n, s) => n + s.series.length, 0);
    const result = {
      model: { dir: o.model, name: manifest.name, version: manifest.version, cell: manifest.cell, horizon: manifest.horizon, targetMode: manifest.targetMode },
      data: {
        ...(o.dataset === undefined ? { file: settings.file } : { dataset: o.dataset }),
        series: evaluation.series.length,
        rows,
        from: settings.from,
        scoredFromRow: evaluation.series.map((s) => s.from),
      },
      season: settings.season ?? null,
      targets: evaluation.targets,
      ...evaluation.scores,
      plot,
    };
    // Arrays of numbers on one line each: a horizon step is a column, read across.
    const number = String.raw`(?:-?[\d.e+-]+|null)`;
    const flatArray = new RegExp(String.raw`\[\s*(${number}(?:,\s*${number})*)\s*\]`, 'g');
    const text = JSON.stringify(result, rounded, 2).replace(flatArray, (_m, inner: string) => `[${inner.split(/,\s*/).join(', ')}]`);
    io.stdout.write(`${text}\n`);
  },
};
