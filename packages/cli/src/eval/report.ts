import type { Manifest } from '@streamcell/model';
import { PALETTE, escapeXml, htmlPage, htmlTable, panelSvg } from '../plot.ts';
import type { PlotLine } from '../plot.ts';
import type { Evaluation, ForecastSeries } from './evaluate.ts';
import type { Metrics } from './metrics.ts';

/** Rows shown before the scored part, for context: a third of the scored part, at least 30, at most what there is. */
function contextRows(fs: ForecastSeries): number {
  return Math.min(fs.from, Math.max(30, Math.round((fs.series.length - fs.from) / 3)));
}

function fmt(v: number | null | undefined, digits = 4): string {
  return v === null || v === undefined ? '-' : v.toPrecision(digits);
}

function isoDay(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString().slice(0, 10);
}

/**
 * The plot of `eval`: for one series, one panel per scored target with the
 * actual values (black) and the forecasts of every horizon step (one
 * colour per step, each drawn at the row it forecasts, so a good model's
 * lines lie on the black one), the start of the scored part marked; then
 * the tables of MAE against the baselines per step.
 */
export function evalHtml(evaluation: Evaluation, manifest: Manifest, plotted: ForecastSeries, title: string, heldOut: boolean, groupColumn?: string): string {
  const { series, forecast, from } = plotted;
  const H = manifest.horizon;
  const T = manifest.targets.length;
  const F = manifest.inputSize;
  const start = from - contextRows(plotted);
  const times = series.times;
  // With a time column the x axis shows dates (ISO days) when the times look like epoch ms.
  const useTime = times !== null && times.length > 0 && times[0]! > 1e11;
  const xOf = (t: number): number => (useTime ? times[t]! : t);
  const panels: string[] = [];
  evaluation.targets.forEach((name, j) => {
    const modelTarget = evaluation.scoredTargets[j]!;
    const feature = manifest.features.indexOf(manifest.targets[modelTarget]!);
    const xs: number[] = [];
    const ys: number[] = [];
    for (let t = start; t < series.length; t++) {
      xs.push(xOf(t));
      ys.push(series.values[t * F + feature]!);
    }
    const lines: PlotLine[] = [{ label: 'actual', color: '#000000', x: xs, y: ys, width: 1.8 }];
    for (let k = 1; k <= H; k++) {
      const fx: number[] = [];
      const fy: number[] = [];
      for (let t = Math.max(0, start - k); t + k < series.length; t++) {
        fx.push(xOf(t + k));
        fy.push(forecast[t * H * T + (k - 1) * T + modelTarget]!);
      }
      lines.push({ label: `forecast ${k} step${k === 1 ? '' : 's'} ahead`, color: PALETTE[(k - 1) % PALETTE.length]!, x: fx, y: fy, width: 1.1, opacity: 0.85, ...(k > 1 ? { dash: k === 2 ? '5 2' : '2 2' } : {}) });
    }
    panels.push(
      panelSvg({
        title: `${name}${groupColumn === undefined ? '' : ` (${groupColumn} ${series.id})`}`,
        lines,
        markers: [{ x: xOf(from), label: heldOut ? 'scored from here (held out)' : 'scored from here', color: '#444' }],
        xLabel: useTime ? 'date' : 'row',
        yLabel: name,
        ...(useTime ? { formatX: isoDay } : {}),
      }),
    );
  });

  const s = evaluation.scores;
  const rowFor = (label: string, m: Metrics, pick: (m: Metrics) => (number | null)[]): string[] => [label, ...pick(m).map((v) => fmt(v))];
  const header = ['', ...s.steps.map((k) => `step ${k}`)];
  const tables: string[] = [];
  for (const [name, t] of Object.entries(s.per_target)) {
    const rows = [
      rowFor('model MAE', t, (m) => m.mae),
      rowFor('persistence MAE', t.naive, (m) => m.mae),
      ...(t.seasonal_naive === undefined ? [] : [rowFor('seasonal naive MAE', t.seasonal_naive, (m) => m.mae)]),
      ['skill vs persistence', ...t.skill.map((v) => fmt(v, 3))],
      rowFor('model RMSE', t, (m) => m.rmse),
      rowFor('model MASE', t, (m) => m.mase),
    ];
    tables.push(`<h3>${escapeXml(name)} (raw units)</h3>`, htmlTable(header, rows));
  }
  return htmlPage(title, [
    `<p>Model <code>${escapeXml(manifest.name)}</code> version <code>${escapeXml(manifest.version)}</code> (${escapeXml(manifest.cell)}, ${manifest.numLayers} x ${manifest.hiddenSize}, horizon ${H}, target mode ${escapeXml(manifest.targetMode)}), stepped online from a zero state through every row as the worker would. Each forecast is drawn at the row it forecasts; rows after the marker are scored${heldOut ? ' and were held out from training' : ' (not all of them were held out from training: --from is below the train fraction the model records, or it records none)'}.</p>`,
    ...panels,
    heldOut ? '<h2>Scores on the held-out part</h2>' : '<h2>Scores on the scored part</h2>',
    ...tables,
  ]);
}
