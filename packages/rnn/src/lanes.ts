import { TrainingError } from './train-error.ts';
import type { RnnSpec } from './types.ts';

/** One series, already scaled, in the head's space. */
export interface TrainSequence {
  /** [length x inputSize], row-major. */
  readonly inputs: Float32Array;
  /**
   * [length x outputSize]: what the head should output after stepping row t.
   * NaN = no target (masked out of the loss, e.g. horizon past the end or
   * past a split).
   */
  readonly targets: Float32Array;
  readonly length: number;
  /** Rows before this index are stepped (to warm the state) but not scored. Default 0. */
  readonly scoreFrom?: number;
}

/** A contiguous run of rows of one sequence, stepped as one lane of the batch with its own carried state. */
export interface Lane {
  /** Index into the sequences given to {@link makeLanes}. */
  readonly sequence: number;
  /** First row of the run. */
  readonly start: number;
  /** Rows in the run. */
  readonly length: number;
}

/**
 * How {@link train} cuts sequences into parallel lanes. The rule, which the
 * PyTorch benchmark reimplements (keep the two in step):
 *
 * 1. N = the sum of all sequence lengths. Sequence s (of length n_s) gets
 *    m_s = min(n_s, max(1, round(batchSize · n_s / N))) lanes, with
 *    Math.round (halves round up). The total is therefore about batchSize,
 *    not exactly.
 * 2. Sequence s is cut into m_s contiguous chunks of as equal length as
 *    possible: q = floor(n_s / m_s), r = n_s mod m_s; the first r chunks
 *    have q + 1 rows, the others q, in row order.
 * 3. Lanes are listed sequence by sequence, chunks in row order.
 *
 * train() then steps all lanes side by side, window after window: window w
 * covers rows [w·k, (w+1)·k) of every lane (k = the TBPTT window), for
 * ceil(longest lane / k) windows per epoch; a lane that has run out of rows
 * is padded (input 0, targets NaN, so it adds nothing to loss or gradient).
 * Every lane starts each epoch from a zero state (also a chunk that starts
 * mid-sequence) and carries its state from window to window without
 * gradient. A row's targets count from the sequence's `scoreFrom` on, in
 * whichever lane it falls.
 *
 * Nothing is shuffled: windows must run in time order for the state to
 * carry, and the lanes of a window are one batch, so their order changes
 * nothing but the rounding of sums. The seed only draws the initial weights.
 */
export function makeLanes(sequences: readonly TrainSequence[], batchSize: number): Lane[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new TrainingError('config_invalid', `batchSize must be a positive integer, got ${batchSize}`, 'batchSize');
  }
  const total = sequences.reduce((sum, s) => sum + s.length, 0);
  const lanes: Lane[] = [];
  sequences.forEach((s, sequence) => {
    if (s.length === 0) return;
    const m = Math.min(s.length, Math.max(1, Math.round((batchSize * s.length) / total)));
    const q = Math.floor(s.length / m);
    const r = s.length % m;
    let start = 0;
    for (let c = 0; c < m; c++) {
      const length = q + (c < r ? 1 : 0);
      lanes.push({ sequence, start, length });
      start += length;
    }
  });
  return lanes;
}

/**
 * Checks sequences against the spec: sizes, finite inputs, targets finite or
 * NaN, scoreFrom in range. Throws a {@link TrainingError} (`input_invalid`)
 * naming the sequence (`what[i]`) and the first bad row.
 */
export function validateSequences(spec: RnnSpec, sequences: readonly TrainSequence[], what: string): void {
  if (!Array.isArray(sequences)) throw new TrainingError('input_invalid', `${what} must be an array of sequences`, what);
  sequences.forEach((s, i) => {
    const fail = (message: string): TrainingError => new TrainingError('input_invalid', `${what}[${i}]: ${message}`, what);
    // Sequences are often built from parsed files; do not trust the static type alone.
    const { length, inputs, targets, scoreFrom } = s as { length: unknown; inputs: unknown; targets: unknown; scoreFrom?: unknown };
    if (typeof length !== 'number' || !Number.isInteger(length) || length < 0) throw fail(`length must be a non-negative integer, got ${String(length)}`);
    if (!(inputs instanceof Float32Array)) throw fail('inputs must be a Float32Array');
    if (!(targets instanceof Float32Array)) throw fail('targets must be a Float32Array');
    if (inputs.length !== length * spec.inputSize) {
      throw fail(`inputs hold ${inputs.length} floats, ${length} rows x inputSize ${spec.inputSize} need ${length * spec.inputSize}`);
    }
    if (targets.length !== length * spec.outputSize) {
      throw fail(`targets hold ${targets.length} floats, ${length} rows x outputSize ${spec.outputSize} need ${length * spec.outputSize}`);
    }
    const from = scoreFrom ?? 0;
    if (typeof from !== 'number' || !Number.isInteger(from) || from < 0 || from > length) {
      throw fail(`scoreFrom must be an integer in [0, ${length}], got ${JSON.stringify(from)}`);
    }
    for (let k = 0; k < inputs.length; k++) {
      if (!Number.isFinite(inputs[k]!)) throw fail(`non-finite input ${inputs[k]} at row ${Math.floor(k / spec.inputSize)}`);
    }
    for (let k = 0; k < targets.length; k++) {
      const v = targets[k]!;
      // NaN is the mask; an infinity is a data error.
      if (!Number.isNaN(v) && !Number.isFinite(v)) throw fail(`infinite target at row ${Math.floor(k / spec.outputSize)}`);
    }
  });
}

/** Number of target entries the loss will score: non-NaN, at or after each sequence's scoreFrom. */
export function scoredTargets(spec: RnnSpec, sequences: readonly TrainSequence[]): number {
  let n = 0;
  for (const s of sequences) {
    for (let k = (s.scoreFrom ?? 0) * spec.outputSize; k < s.targets.length; k++) if (!Number.isNaN(s.targets[k]!)) n++;
  }
  return n;
}
