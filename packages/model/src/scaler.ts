import { StreamcellError } from '@streamcell/protocol';
import type { Manifest } from './manifest.ts';

/**
 * Maps raw feature rows into the model's units and head outputs back into
 * forecasts. Both the CLI's `predict` and the worker go through this one
 * object, so offline and online forecasts are computed by the same arithmetic.
 *
 * Exact arithmetic (all in float64, each result rounded once to float32 when
 * it is stored):
 *
 * - input: `x[i] = (raw[i] - mean[i]) / std[i]`; without a scaler `x[i] = raw[i]`.
 * - forecast, for output index `j` (horizon step `floor(j / T)`, target
 *   `t = j % T`, `T = targets.length`) and `f` the feature index of
 *   `targets[t]`, with `y[j]` the head's float32 output:
 *   - `level`: `forecast[j] = y[j] * std[f] + mean[f]`
 *   - `delta`: `forecast[j] = (y[j] + x[f]) * std[f] + mean[f]`, where `x[f]` is
 *     the float32 scaled input of the event just stepped (the last observed
 *     value of that target). Every horizon step adds the same `x[f]`: the head
 *     predicts each step's change from the last observation, not step to step.
 *   - without a scaler `mean = 0` and `std = 1`, so `level` is the head output
 *     itself and `delta` adds the raw last value.
 */
export interface FeatureScaler {
  readonly inputSize: number;
  readonly outputSize: number;
  /**
   * Writes the scaled row into `out[outOffset ..]`. Throws a `non_finite`
   * StreamcellError naming the feature when a value is not finite or overflows
   * float32, because the cell would carry the NaN forever after.
   */
  scaleRow(raw: ArrayLike<number>, out: Float32Array, outOffset?: number): void;
  /**
   * Writes the forecasts for one event into `out[outOffset ..]` from the head's
   * outputs at `head[headOffset ..]` and the same event's scaled row at
   * `scaled[scaledOffset ..]` (only read in `delta` mode).
   */
  toForecast(
    head: Float32Array,
    headOffset: number,
    scaled: Float32Array,
    scaledOffset: number,
    out: Float32Array,
    outOffset?: number,
  ): void;
}

/** Builds the {@link FeatureScaler} of a manifest; tables are precomputed so a step allocates nothing. */
export function createScaler(manifest: Manifest): FeatureScaler {
  const { inputSize, outputSize, features, targets, scaler, targetMode } = manifest;
  const mean = Float64Array.from(scaler?.mean ?? new Array<number>(inputSize).fill(0));
  const std = Float64Array.from(scaler?.std ?? new Array<number>(inputSize).fill(1));
  // Per output index: which feature's statistics and last value apply.
  const featureOfOutput = new Int32Array(outputSize);
  for (let j = 0; j < outputSize; j++) {
    featureOfOutput[j] = features.indexOf(targets[j % targets.length]!);
  }
  const delta = targetMode === 'delta';

  return {
    inputSize,
    outputSize,
    scaleRow(raw, out, outOffset = 0) {
      if (raw.length !== inputSize) {
        throw new StreamcellError('wrong_dimension', `expected ${inputSize} values, got ${raw.length}`);
      }
      for (let i = 0; i < inputSize; i++) {
        const v = (raw[i]! - mean[i]!) / std[i]!;
        out[outOffset + i] = v;
        if (!Number.isFinite(out[outOffset + i]!)) {
          throw new StreamcellError(
            'non_finite',
            `feature "${features[i]}": value ${raw[i]} is not finite${Number.isFinite(v) ? ' once scaled to float32' : ''}`,
          );
        }
      }
    },
    toForecast(head, headOffset, scaled, scaledOffset, out, outOffset = 0) {
      for (let j = 0; j < outputSize; j++) {
        const f = featureOfOutput[j]!;
        const y = delta ? head[headOffset + j]! + scaled[scaledOffset + f]! : head[headOffset + j]!;
        out[outOffset + j] = y * std[f]! + mean[f]!;
      }
    },
  };
}
