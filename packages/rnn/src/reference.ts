import { affine, cellForward } from './cells.ts';
import type { FloatArray } from './cells.ts';
import { cOffset, checkMaxBatch, checkStepArgs, gateCount, hOffset, stateSize, validateWeights } from './spec.ts';
import type { RnnSpec, RnnWeights, Stepper } from './types.ts';

/** Either float width: the reference runs in float32 storage, or float64 to measure drift. */
export type { FloatArray };

/**
 * A {@link Stepper} that also accepts float64 buffers. With float32 buffers
 * it rounds h, c and out to float32 each step like PyTorch does; with
 * float64 buffers nothing is rounded except the weights themselves.
 */
export interface ReferenceStepper extends Stepper {
  step(batch: number, x: FloatArray, state: FloatArray, out: FloatArray): void;
}

/**
 * The trusted, readable stepper: one stream at a time, one dot product per
 * gate row, arithmetic in float64 (JS numbers). It is the yardstick the fast
 * WebAssembly stepper is tested against, so it favours obviousness over speed.
 *
 * Per layer, with x the layer input (the event for layer 0, the new h of the
 * layer below otherwise), both PyTorch biases added:
 *
 * LSTM, rows of the weights [i | f | g | o]:
 *   i = σ(W_ii x + b_ii + W_hi hPrev + b_hi)   f = σ(W_if x + b_if + W_hf hPrev + b_hf)
 *   g = tanh(W_ig x + b_ig + W_hg hPrev + b_hg) o = σ(W_io x + b_io + W_ho hPrev + b_ho)
 *   c = f * cPrev + i * g,  h = o * tanh(c)
 *
 * GRU, rows [r | z | n]:
 *   r = σ(W_ir x + b_ir + W_hr hPrev + b_hr)   z = σ(W_iz x + b_iz + W_hz hPrev + b_hz)
 *   n = tanh(W_in x + b_in + r * (W_hn hPrev + b_hn))
 *   h = (1 - z) * n + z * hPrev
 *
 * rnn_tanh / rnn_relu, a single gate:
 *   h = act(W_ih x + b_ih + W_hh hPrev + b_hh)
 *
 * Head: out = headWeight · h_top + headBias.
 *
 * The equations live in ./cells.ts, shared with the trainer's taped forward
 * pass, so the model that is trained is the model that is served.
 */
export function createReferenceStepper(weights: RnnWeights, maxBatch: number): ReferenceStepper {
  validateWeights(weights);
  checkMaxBatch(maxBatch);
  const spec: RnnSpec = {
    cell: weights.cell,
    inputSize: weights.inputSize,
    hiddenSize: weights.hiddenSize,
    numLayers: weights.numLayers,
    outputSize: weights.outputSize,
  };
  const { cell, inputSize, hiddenSize: H, numLayers, outputSize } = spec;
  const G = gateCount(cell);
  const S = stateSize(spec);
  // Scratch, allocated once: the input-side and hidden-side pre-activations
  // are kept apart because GRU's n gate needs them apart.
  const gi = new Float64Array(G * H);
  const gh = new Float64Array(G * H);
  const layerInput = new Float64Array(Math.max(inputSize, H));
  const head = new Float64Array(outputSize);
  // A copy, not a view: GRU reads hPrev after h is written in place.
  const hPrev = new Float64Array(H);

  function stepStream(x: FloatArray, xBase: number, state: FloatArray, sBase: number, out: FloatArray, oBase: number): void {
    for (let k = 0; k < inputSize; k++) layerInput[k] = x[xBase + k]!;
    let cols = inputSize;
    for (let layer = 0; layer < numLayers; layer++) {
      const w = weights.layers[layer]!;
      const h0 = sBase + hOffset(spec, layer);
      const c0 = sBase + cOffset(spec, layer);
      for (let j = 0; j < H; j++) hPrev[j] = state[h0 + j]!;
      affine(w.weightIh, w.biasIh, G * H, cols, 1, layerInput, 0, gi, 0);
      affine(w.weightHh, w.biasHh, G * H, H, 1, hPrev, 0, gh, 0);
      cellForward(cell, H, 1, gi, gh, 0, hPrev, 0, state, c0, state, h0, state, c0, null, 0);
      // The next layer sees this layer's h as stored (float32-rounded in float32 storage).
      for (let j = 0; j < H; j++) layerInput[j] = state[h0 + j]!;
      cols = H;
    }
    affine(weights.headWeight, weights.headBias, outputSize, H, 1, layerInput, 0, head, 0);
    for (let o = 0; o < outputSize; o++) out[oBase + o] = head[o]!;
  }

  return {
    spec,
    maxBatch,
    step(batch: number, x: FloatArray, state: FloatArray, out: FloatArray): void {
      checkStepArgs(spec, maxBatch, batch, x, state, out);
      for (let b = 0; b < batch; b++) stepStream(x, b * inputSize, state, b * S, out, b * outputSize);
    },
  };
}
