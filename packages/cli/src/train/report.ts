import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Scaler } from '@streamcell/model';
import { StreamcellError } from '@streamcell/protocol';
import type { EpochRecord } from '@streamcell/rnn';
import type { TrainSettings } from './run.ts';
import { PALETTE, htmlPage, htmlTable, panelSvg } from '../plot.ts';
import type { PlotLine } from '../plot.ts';

/** Rows of one series in each part of the split. */
export interface SeriesSummary {
  readonly id: string;
  readonly rows: number;
  readonly trainRows: number;
  readonly validationRows: number;
  readonly heldOutRows: number;
}

/** Contents of `report.json`, written beside the model by `streamcell train`. */
export interface TrainReport {
  readonly format: 'streamcell-train-report/v1';
  readonly createdAt: string;
  readonly model: {
    readonly dir: string;
    readonly name: string;
    readonly version: string;
    readonly cell: string;
    readonly hiddenSize: number;
    readonly numLayers: number;
    readonly horizon: number;
    readonly targetMode: string;
  };
  /** Every setting the run used, defaults included. */
  readonly settings: TrainSettings;
  readonly data: {
    readonly file: string;
    readonly dataset?: string;
    readonly features: readonly string[];
    readonly targets: readonly string[];
    readonly rows: number;
    readonly trainRows: number;
    readonly validationRows: number;
    readonly heldOutRows: number;
    readonly series: readonly SeriesSummary[];
  };
  readonly scaler: Scaler | null;
  /** Loss per epoch, in scaled units, mean over scored entries (see the trainer's docs). */
  readonly history: readonly EpochRecord[];
  readonly bestEpoch: number;
  readonly stoppedEarly: boolean;
  readonly seconds: number;
}

/** Names of the report files inside the model directory. */
export const REPORT_FILES = { json: 'report.json', html: 'report.html' } as const;

/** The report as a standalone HTML page: loss curves (log scale), the best epoch, the split and the settings. */
export function reportHtml(report: TrainReport): string {
  const epochs = report.history.map((h) => h.epoch);
  const lines: PlotLine[] = [
    { label: 'train loss', color: PALETTE[0], x: epochs, y: report.history.map((h) => h.trainLoss), width: 2 },
  ];
  if (report.history.some((h) => h.validationLoss !== null)) {
    lines.push({ label: 'validation loss', color: PALETTE[1], x: epochs, y: report.history.map((h) => h.validationLoss ?? Number.NaN), width: 2 });
  }
  const loss = report.settings.loss;
  const curve = panelSvg({
    title: `Loss per epoch (${loss}, scaled units)`,
    lines,
    markers: [{ x: report.bestEpoch, label: `best epoch ${report.bestEpoch}`, color: '#009E73' }],
    xLabel: 'epoch',
    yLabel: `${loss} (log scale)`,
    logY: true,
    formatX: (x) => (Number.isInteger(x) ? String(x) : ''),
  });
  const m = report.model;
  const best = report.history.find((h) => h.epoch === report.bestEpoch);
  const summary = htmlTable(
    null,
    [
      ['model', `${m.name} version ${m.version}: ${m.cell}, ${m.numLayers} layer(s) of ${m.hiddenSize}, horizon ${m.horizon}, target mode ${m.targetMode}`],
      ['data', `${report.data.dataset === undefined ? report.data.file : `demo data set ${report.data.dataset}`}; features ${report.data.features.join(', ')}; targets ${report.data.targets.join(', ')}`],
      ['rows', `${report.data.rows}: train ${report.data.trainRows}, validation ${report.data.validationRows}, held out ${report.data.heldOutRows}`],
      ['epochs', `${report.history.length}${report.stoppedEarly ? ' (stopped early)' : ''}, best ${report.bestEpoch}`],
      ['best losses', best === undefined ? '-' : `train ${best.trainLoss.toPrecision(4)}, validation ${best.validationLoss === null ? '-' : best.validationLoss.toPrecision(4)}`],
      ['time', `${report.seconds.toFixed(1)} s`],
    ],
    true,
  );
  const settings = htmlTable(
    ['setting', 'value'],
    Object.entries(report.settings).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
    true,
  );
  const series = htmlTable(
    ['series', 'rows', 'train', 'validation', 'held out'],
    report.data.series.map((s) => [s.id, String(s.rows), String(s.trainRows), String(s.validationRows), String(s.heldOutRows)]),
  );
  return htmlPage(`Training report: ${m.name} ${m.version}`, [
    summary,
    curve,
    '<h2>Split by time, per series</h2>',
    `<p>Rows are cut by time within each series: training rows first, then validation rows, then the held-out rows that <code>streamcell eval --from ${report.settings.trainFraction}</code> scores. The scaler saw the training rows only.</p>`,
    series,
    '<h2>Settings</h2>',
    settings,
  ]);
}

/** Writes `report.json` and `report.html` into `dir`. */
export async function writeReport(dir: string, report: TrainReport): Promise<{ json: string; html: string }> {
  const json = join(dir, REPORT_FILES.json);
  const html = join(dir, REPORT_FILES.html);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(html, reportHtml(report));
  } catch (err) {
    throw new StreamcellError('model_io', `${dir}: cannot write the training report (${(err as Error).message})`, { cause: err });
  }
  return { json, html };
}
