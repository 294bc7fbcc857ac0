/**
 * Online scoring of forecasts against the actual values as they arrive, and
 * of the naive persistence forecast beside them, kept in the state record.
 *
 * For horizon H and T targets the history holds, newest first:
 *   - pending forecasts: block j (j = 0..H-1) is what the forecast made j
 *     events ago still predicts, steps j+1..H, (H - j) x T values; so
 *     H(H+1)/2 x T values in all;
 *   - the last H actual target values, H x T (persistence predicts these).
 * When event t+1 arrives, the first step of block j is the (j+1)-step-ahead
 * forecast of it, and actual[j] is the persistence forecast for that step.
 *
 * It lives beside the record codec because two services read it: the worker
 * keeps it, the gateway reads the latest forecast out of it.
 */

/** Layout of the scoring history for one model. */
export interface ScoringLayout {
  readonly horizon: number;
  readonly targets: number;
  /** Floats in the history. */
  readonly size: number;
  /** Start of pending block j. */
  readonly blockStart: readonly number[];
  /** Start of the actuals. */
  readonly actualsStart: number;
}

/** The history layout for a horizon and target count. */
export function scoringLayout(horizon: number, targets: number): ScoringLayout {
  const blockStart: number[] = [];
  let at = 0;
  for (let j = 0; j < horizon; j++) {
    blockStart.push(at);
    at += (horizon - j) * targets;
  }
  return { horizon, targets, size: at + horizon * targets, blockStart, actualsStart: at };
}

/** Sums of absolute errors by horizon step and target, for one batch. */
export interface ErrorSums {
  /** [H x T] |actual - forecast| */
  readonly model: Float64Array;
  /** [H x T] |actual - persistence| */
  readonly naive: Float64Array;
  /** [H x T] how many were scored */
  readonly count: Float64Array;
}

/** Zeroed sums for a layout. */
export function errorSums(layout: ScoringLayout): ErrorSums {
  // Block 0 opens the history: the forecast made at the last event.
  const n = layout.horizon * layout.targets;
  return { model: new Float64Array(n), naive: new Float64Array(n), count: new Float64Array(n) };
}

/**
 * Scores the pending forecasts against `actual` (T values), adds to `sums`,
 * writes actual minus the previous one-step forecast into `oneStepError`
 * (returns false when no forecast was pending), then shifts the history:
 * `forecast` (H x T, the forecast just made) becomes block 0 and `actual`
 * the newest actual. `history` is updated in place through `scratch`
 * (same size). Returns the new count of known events (at most H).
 */
export function scoreAndShift(
  layout: ScoringLayout,
  history: Float32Array,
  known: number,
  actual: ArrayLike<number>,
  forecast: ArrayLike<number>,
  sums: ErrorSums,
  oneStepError: Float64Array,
  scratch: Float32Array,
): { known: number; hasOneStepError: boolean } {
  const { horizon: H, targets: T, blockStart, actualsStart } = layout;
  const usable = Math.min(known, H);
  for (let j = 0; j < usable; j++) {
    const block = blockStart[j]!;
    const prevActual = actualsStart + j * T;
    for (let t = 0; t < T; t++) {
      const a = actual[t]!;
      const idx = j * T + t;
      const err = a - history[block + t]!;
      if (j === 0) oneStepError[t] = err;
      sums.model[idx] = sums.model[idx]! + Math.abs(err);
      sums.naive[idx] = sums.naive[idx]! + Math.abs(a - history[prevActual + t]!);
      sums.count[idx] = sums.count[idx]! + 1;
    }
  }
  // Shift: block j+1 <- block j without its first step; block 0 <- forecast.
  for (let t = 0; t < H * T; t++) scratch[t] = forecast[t]!;
  for (let j = 0; j + 1 < H; j++) {
    const from = blockStart[j]! + T;
    const to = blockStart[j + 1]!;
    const len = (H - j - 1) * T;
    for (let i = 0; i < len; i++) scratch[to + i] = history[from + i]!;
  }
  for (let t = 0; t < T; t++) scratch[actualsStart + t] = actual[t]!;
  for (let j = 0; j + 1 < H; j++) {
    for (let t = 0; t < T; t++) scratch[actualsStart + (j + 1) * T + t] = history[actualsStart + j * T + t]!;
  }
  history.set(scratch.length === layout.size ? scratch : scratch.subarray(0, layout.size));
  return { known: Math.min(H, known + 1), hasOneStepError: usable > 0 };
}

/** The newest forecast and actual values held in a scoring history. */
export interface LatestScoring {
  /** [H x T] the forecast made at the last event, step by step. */
  readonly forecast: Float32Array;
  /** [T] the last event's actual target values. */
  readonly actual: Float32Array;
}

/**
 * The forecast made at the stream's last event and that event's actual
 * values, read from a saved history; undefined when it holds no event yet
 * (`known` 0) or has another size than the layout (another model's record).
 */
export function latestScoring(layout: ScoringLayout, history: Float32Array, known: number): LatestScoring | undefined {
  if (known < 1 || history.length !== layout.size) return undefined;
  // Block 0 opens the history: the forecast made at the last event.
  const n = layout.horizon * layout.targets;
  return {
    forecast: history.slice(0, n),
    actual: history.slice(layout.actualsStart, layout.actualsStart + layout.targets),
  };
}
