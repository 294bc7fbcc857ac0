import { gateCount } from '@streamcell/rnn';
import type { CellType, RnnSpec } from '@streamcell/rnn';

/** One line of the machine-readable result; ratio = ours / ort. */
export interface ResultRow {
  readonly cell: CellType;
  readonly hidden: number;
  readonly batch: number;
  /** Stream-steps per second. */
  readonly ours: number;
  readonly ort: number;
  readonly ratio: number;
}

/** Extra numbers for the human table. */
export interface TableRow extends ResultRow {
  readonly oursGflops: number;
  readonly ortGflops: number;
  /** (max - min) / median over the rounds, of the noisier side. */
  readonly spread: number;
  /** Stream-steps per second of process CPU time (see Rate.perCpuSecond). */
  readonly oursPerCpuSecond: number;
  readonly ortPerCpuSecond: number;
  /** CPU time / wall time, the lower of the two sides: well below 1 means disturbed. */
  readonly onCpu: number;
}

/**
 * Floating-point operations of one stream-step, counting a multiply-add as 2:
 * per layer the fused gate products 2*G*H*(in + H), plus the head's 2*O*H.
 * Bias adds and activations are left out.
 */
export function flopsPerStreamStep(spec: RnnSpec): number {
  const g = gateCount(spec.cell);
  const h = spec.hiddenSize;
  let flops = 2 * spec.outputSize * h;
  for (let k = 0; k < spec.numLayers; k++) flops += 2 * g * h * ((k === 0 ? spec.inputSize : h) + h);
  return flops;
}

/** A fixed-width text table of the rows. */
export function formatTable(rows: readonly TableRow[]): string {
  const header = [
    'cell',
    'hidden',
    'batch',
    'ours steps/s',
    'ort steps/s',
    'ours/ort',
    'ours GFLOP/s',
    'ort GFLOP/s',
    'spread',
    'on-cpu',
    'ours steps/cpu-s',
    'ort steps/cpu-s',
    'ratio/cpu-s',
  ];
  const body = rows.map((r) => [
    r.cell,
    String(r.hidden),
    String(r.batch),
    integer(r.ours),
    integer(r.ort),
    r.ratio.toFixed(2),
    r.oursGflops.toFixed(2),
    r.ortGflops.toFixed(2),
    percent(r.spread),
    percent(r.onCpu),
    integer(r.oursPerCpuSecond),
    integer(r.ortPerCpuSecond),
    (r.oursPerCpuSecond / r.ortPerCpuSecond).toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => line[i]!.length)));
  // Text columns flush left, numbers flush right.
  const pad = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [pad(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(pad)].join('\n');
}

/** The rows as one JSON line with exactly the fields of {@link ResultRow}. */
export function formatJson(rows: readonly ResultRow[]): string {
  return JSON.stringify(
    rows.map(({ cell, hidden, batch, ours, ort, ratio }) => ({
      cell,
      hidden,
      batch,
      ours: Math.round(ours),
      ort: Math.round(ort),
      ratio: Number(ratio.toFixed(3)),
    })),
  );
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(0)}%`;
}

function integer(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
