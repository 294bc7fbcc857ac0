/** Loss of a forecast against its target, per scored entry. */
export type LossKind = 'mse' | 'mae' | 'huber';

/** The loss kinds {@link train} accepts. */
export const LOSS_KINDS: readonly LossKind[] = ['mse', 'mae', 'huber'];

/**
 * Sum of the per-entry losses of `out` against `y` over `n` entries from
 * `at`, skipping NaN targets (masked: no target there), and how many entries
 * were scored. The trainer's loss is sum / count: the mean over every scored
 * entry of a window batch.
 *
 * Per entry, with d = out - y (PyTorch's MSELoss, L1Loss, HuberLoss):
 *   mse   d²
 *   mae   |d|                                  (gradient sign(d), 0 at 0)
 *   huber d²/2 if |d| <= delta, else delta·(|d| - delta/2)
 */
export function lossSum(kind: LossKind, delta: number, out: Float64Array, y: Float64Array, at: number, n: number): { sum: number; count: number } {
  let sum = 0;
  let count = 0;
  // One loop per kind: the kind is fixed for the whole pass.
  if (kind === 'mse') {
    for (let i = at; i < at + n; i++) {
      const target = y[i]!;
      // NaN is the mask. (A NaN output is not skipped: it must show in the sum.)
      if (target !== target) continue;
      const d = out[i]! - target;
      count++;
      sum += d * d;
    }
  } else if (kind === 'mae') {
    for (let i = at; i < at + n; i++) {
      const target = y[i]!;
      if (target !== target) continue;
      const d = out[i]! - target;
      count++;
      sum += Math.abs(d);
    }
  } else {
    for (let i = at; i < at + n; i++) {
      const target = y[i]!;
      if (target !== target) continue;
      const d = out[i]! - target;
      count++;
      const a = Math.abs(d);
      sum += a <= delta ? 0.5 * d * d : delta * (a - 0.5 * delta);
    }
  }
  return { sum, count };
}

/**
 * Writes `scale` · d(per-entry loss)/d(out) for `n` entries from `at` into
 * `dOut` (from `dAt`); NaN targets give 0. With scale = 1/count this is the
 * gradient of the mean that {@link lossSum} leads to.
 */
export function lossGradient(
  kind: LossKind,
  delta: number,
  out: Float64Array,
  y: Float64Array,
  at: number,
  n: number,
  scale: number,
  dOut: Float64Array,
  dAt: number,
): void {
  for (let i = 0; i < n; i++) {
    const target = y[at + i]!;
    if (Number.isNaN(target)) {
      dOut[dAt + i] = 0;
      continue;
    }
    const d = out[at + i]! - target;
    let g: number;
    if (kind === 'mse') g = 2 * d;
    else if (kind === 'mae') g = Math.sign(d);
    else g = Math.abs(d) <= delta ? d : delta * Math.sign(d);
    dOut[dAt + i] = g * scale;
  }
}
