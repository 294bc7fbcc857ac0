/**
 * Self-contained SVG line charts in one HTML page, for the training report
 * and `eval --plot`: no script, no fonts or styles from elsewhere, so the
 * file opens anywhere, offline, and can be committed beside a model.
 */

/** One polyline; NaN y values break the line. */
export interface PlotLine {
  readonly label: string;
  readonly color: string;
  readonly x: ArrayLike<number>;
  readonly y: ArrayLike<number>;
  readonly width?: number;
  readonly dash?: string;
  readonly opacity?: number;
}

/** A vertical rule across the panel (a split, the best epoch). */
export interface PlotMarker {
  readonly x: number;
  readonly label: string;
  readonly color?: string;
}

/** One chart. */
export interface PlotPanel {
  readonly title: string;
  readonly lines: readonly PlotLine[];
  readonly markers?: readonly PlotMarker[];
  readonly xLabel?: string;
  readonly yLabel?: string;
  /** Log-scaled y axis (loss curves); non-positive values are left out. */
  readonly logY?: boolean;
  /** Tick text for an x value (e.g. a date); default: the number. */
  readonly formatX?: (x: number) => string;
  readonly width?: number;
  readonly height?: number;
}

/** Colours that stay apart for the usual forms of colour blindness (Okabe and Ito). */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000'] as const;

/** Escapes text for SVG/HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit < 1.5 ? 1 : unit < 3 ? 2 : unit < 7 ? 5 : 10) * power;
}

function ticks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, count);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

/** Ticks of a log axis, as log10 values between lo and hi: 1, 2, 5 per decade, or every digit when that gives too few. */
function logTicks(lo: number, hi: number): number[] {
  for (const mantissas of [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    const out: number[] = [];
    for (let k = Math.floor(lo); k <= Math.ceil(hi); k++) {
      for (const m of mantissas) {
        const v = Math.log10(m) + k;
        if (v >= lo && v <= hi) out.push(v);
      }
    }
    if (out.length >= 3) return out;
  }
  // A narrow range: round values spaced evenly in data units.
  return ticks(10 ** lo, 10 ** hi, 5)
    .filter((v) => v > 0)
    .map(Math.log10);
}

function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return Number(v.toPrecision(4)).toString();
}

// Ids of clip paths must be unique within a page; a counter keeps output deterministic.
let clipCount = 0;

/** Renders one panel as an `<svg>` element. */
export function panelSvg(panel: PlotPanel): string {
  const width = panel.width ?? 960;
  const height = panel.height ?? 320;
  const m = { left: 64, right: 16, top: 28, bottom: 44 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const ty = panel.logY === true ? (v: number) => (v > 0 ? Math.log10(v) : Number.NaN) : (v: number) => v;

  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (const line of panel.lines) {
    for (let i = 0; i < line.x.length; i++) {
      const x = line.x[i]!;
      const y = ty(line.y[i]!);
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      xMin = Math.min(xMin, x);
      xMax = Math.max(xMax, x);
      yMin = Math.min(yMin, y);
      yMax = Math.max(yMax, y);
    }
  }
  if (!Number.isFinite(xMin)) {
    xMin = 0;
    xMax = 1;
    yMin = 0;
    yMax = 1;
  }
  if (xMax === xMin) xMax = xMin + 1;
  if (yMax === yMin) {
    yMax += 0.5;
    yMin -= 0.5;
  }
  const pad = (yMax - yMin) * 0.05;
  yMin -= pad;
  yMax += pad;
  const sx = (x: number): number => m.left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number): number => m.top + (1 - (y - yMin) / (yMax - yMin)) * ph;
  const fmtX = panel.formatX ?? formatNumber;

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`);
  parts.push(`<text x="${m.left}" y="16" font-size="13" font-weight="bold">${escapeXml(panel.title)}</text>`);
  // Grid and axes.
  const yTicks = panel.logY === true ? logTicks(yMin, yMax) : ticks(yMin, yMax, 6);
  for (const v of yTicks) {
    const y = sy(v).toFixed(1);
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#555">${escapeXml(formatNumber(panel.logY === true ? 10 ** v : v))}</text>`);
  }
  for (const v of ticks(xMin, xMax, 8)) {
    const x = sx(v).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${x}" y="${m.top + ph + 14}" text-anchor="middle" fill="#555">${escapeXml(fmtX(v))}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  if (panel.xLabel !== undefined) {
    parts.push(`<text x="${m.left + pw / 2}" y="${height - 6}" text-anchor="middle" fill="#333">${escapeXml(panel.xLabel)}</text>`);
  }
  if (panel.yLabel !== undefined) {
    parts.push(`<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" fill="#333">${escapeXml(panel.yLabel)}</text>`);
  }
  for (const marker of panel.markers ?? []) {
    if (marker.x < xMin || marker.x > xMax) continue;
    const x = sx(marker.x).toFixed(1);
    const color = marker.color ?? '#444';
    parts.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${m.top + ph}" stroke="${color}" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${Number(x) + 4}" y="${m.top + 12}" fill="${color}">${escapeXml(marker.label)}</text>`);
  }
  // Lines, clipped to the plot area.
  clipCount++;
  const clip = `clip${clipCount}`;
  parts.push(`<clipPath id="${clip}"><rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}"/></clipPath><g clip-path="url(#${clip})">`);
  for (const line of panel.lines) {
    let d = '';
    let pen = false;
    for (let i = 0; i < line.x.length; i++) {
      const x = line.x[i]!;
      const y = ty(line.y[i]!);
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${sx(x).toFixed(1)} ${sy(y).toFixed(1)}`;
      pen = true;
    }
    if (d === '') continue;
    const dash = line.dash === undefined ? '' : ` stroke-dasharray="${line.dash}"`;
    const opacity = line.opacity === undefined ? '' : ` stroke-opacity="${line.opacity}"`;
    parts.push(`<path d="${d}" fill="none" stroke="${line.color}" stroke-width="${line.width ?? 1.2}"${dash}${opacity} stroke-linejoin="round"/>`);
  }
  parts.push('</g>');
  // Legend, top right, one row.
  let lx = m.left + pw;
  const legend: string[] = [];
  for (const line of [...panel.lines].reverse()) {
    const w = 28 + line.label.length * 6.2;
    lx -= w;
    const dash = line.dash === undefined ? '' : ` stroke-dasharray="${line.dash}"`;
    legend.push(`<line x1="${lx}" x2="${lx + 18}" y1="12" y2="12" stroke="${line.color}" stroke-width="2"${dash}/>`);
    legend.push(`<text x="${lx + 22}" y="12" dominant-baseline="middle">${escapeXml(line.label)}</text>`);
  }
  parts.push(...legend);
  parts.push('</svg>');
  return parts.join('\n');
}

/** A standalone HTML page: a title, free HTML sections (already escaped) and panels. */
export function htmlPage(title: string, sections: readonly string[]): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeXml(title)}</title>
<style>
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1000px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f5f5f5; }
td:first-child, th:first-child, table.text td, table.text th { text-align: left; }
code { background: #f5f5f5; padding: 1px 4px; }
svg { display: block; margin: 8px 0 20px; max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>${escapeXml(title)}</h1>
${sections.join('\n')}
</body>
</html>
`;
}

/** An HTML table from a header row (none when null) and body rows, cells escaped here; `text` tables align left. */
export function htmlTable(header: readonly string[] | null, rows: readonly (readonly string[])[], text = false): string {
  const head = header === null ? '' : `<tr>${header.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr>\n`;
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table${text ? ' class="text"' : ''}>\n${head}${body}\n</table>`;
}
