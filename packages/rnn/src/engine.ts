import { affine, cellBackward, cellForward, tapeWidth } from './cells.ts';
import type { Lane, TrainSequence } from './lanes.ts';
import { lossGradient, lossSum } from './loss.ts';
import type { LossKind } from './loss.ts';
import { parameterCount, zeroTensors } from './params.ts';
import type { Float64Weights } from './params.ts';
import { gateCount } from './spec.ts';
import type { RnnSpec } from './types.ts';
import { createTrainKernels } from './wasm/train-kernels.ts';

/**
 * The trainer's taped forward and backward pass over one window of `lanes`
 * lanes, float64 throughout, every buffer allocated once (in the memory of
 * the WebAssembly kernels, ./wasm/train-kernels.ts).
 *
 * The cell equations are ./cells.ts's, the reference stepper's own. The
 * matrix products run in the WebAssembly kernels when the shapes fit their
 * tiles, else in JavaScript; the forward product sums in the reference's
 * order on both paths (the same bits), the gradient products in a fixed
 * order of their own (repeatable, checked against finite differences and
 * PyTorch).
 *
 * Layout (time-major, lanes contiguous inside a step, so that every step is
 * one batched call into ./cells.ts):
 * - `x` [window x lanes x inputSize], `y` and `out` [window x lanes x outputSize]
 *   (y NaN = not scored);
 * - per layer, `h` and (LSTM) `c` [(window + 1) x lanes x hidden]: slot 0 is
 *   the state the window starts from, slot t + 1 the state after step t;
 * - per layer, the tape [window x lanes x tapeWidth] of gate activations.
 *
 * Truncated BPTT: {@link Engine.carry} copies the last slot into slot 0, so
 * the next window starts from that state, and the backward pass never goes
 * past slot 0: the gradient does not cross the cut.
 */
export interface Engine {
  readonly spec: RnnSpec;
  /**
   * Lanes stepped per step: the lanes asked for, rounded up to an even count
   * (the kernels' tiles take two lanes at a time). load() pads the extra
   * lane with input 0 and NaN targets, so it adds nothing to loss or gradient.
   */
  readonly lanes: number;
  readonly window: number;
  /** The parameters forward() and backward() use; set them with `params.flat.set(...)`. */
  readonly params: Float64Weights;
  /** Gradients of the mean loss of the last backward(), same layout as params. */
  readonly grads: Float64Weights;
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly out: Float64Array;
  /** Per layer, [(window + 1) x lanes x hidden]. */
  readonly h: readonly Float64Array[];
  /** Per layer, [(window + 1) x lanes x hidden]; empty arrays unless LSTM. */
  readonly c: readonly Float64Array[];
  /** Zeroes the start state (slot 0) of every lane. */
  resetState(): void;
  /** Copies the state after `steps` steps into slot 0 (the TBPTT carry: no gradient crosses it). */
  carry(steps: number): void;
  /**
   * Fills x and y with rows [from, from + steps) of every lane; rows past a
   * lane's end get input 0 and NaN targets, rows before the sequence's
   * scoreFrom get NaN targets.
   */
  load(sequences: readonly TrainSequence[], lanes: readonly Lane[], from: number, steps: number): void;
  /** Steps `steps` steps from slot 0, filling h, c, the tape and out. */
  forward(steps: number): void;
  /** Sum of the per-entry losses of the last forward() and the number of scored entries. */
  loss(kind: LossKind, delta: number, steps: number): { sum: number; count: number };
  /**
   * Gradients of the mean loss (sum / count over the window's scored
   * entries) of the last forward() into `grads`, overwriting them.
   */
  backward(kind: LossKind, delta: number, steps: number, count: number): void;
}

/** An {@link Engine} for `lanes` lanes (rounded up to even) and windows of up to `window` steps. */
export function createEngine(spec: RnnSpec, lanes: number, window: number): Engine {
  const { cell, inputSize: I, hiddenSize: H, numLayers: L, outputSize: O } = spec;
  const B = lanes + (lanes % 2);
  const GH = gateCount(cell) * H;
  const TW = tapeWidth(cell, H);
  const P = parameterCount(spec);
  const hSlots = (window + 1) * B * H;
  const inCols = (l: number): number => (l === 0 ? I : H);

  // Every buffer lives in the kernels' memory, 16-byte aligned, so the
  // WebAssembly products can reach it; sizes first, then one memory.
  const sizes: number[] = [P, P, window * B * I, window * B * O, window * B * O];
  for (let l = 0; l < L; l++) sizes.push(hSlots, cell === 'lstm' ? hSlots : 0, window * B * TW, GH * inCols(l), GH * H, B * H, B * H);
  sizes.push(O * H, B * GH, B * GH, B * GH, cell === 'gru' ? B * GH : 0, B * O, B * H, B * H, B * H);
  const kernels = createTrainKernels(sizes.reduce((sum, n) => sum + Math.ceil(n / 2) * 16, 0));
  let at = 0;
  const alloc = (n: number): Float64Array => {
    const view = new Float64Array(kernels.memory, at, n);
    at += Math.ceil(n / 2) * 16;
    return view;
  };
  const params = zeroTensors(spec, alloc(P));
  const grads = zeroTensors(spec, alloc(P));
  const x = alloc(window * B * I);
  const y = alloc(window * B * O);
  const out = alloc(window * B * O);
  const h: Float64Array[] = [];
  const c: Float64Array[] = [];
  const tape: Float64Array[] = [];
  // Transposed copies of the weights ([cols x rows]) for the forward product, refreshed by forward().
  const wtIh: Float64Array[] = [];
  const wtHh: Float64Array[] = [];
  const dhCarry: Float64Array[] = [];
  const dcCarry: Float64Array[] = [];
  for (let l = 0; l < L; l++) {
    h.push(alloc(hSlots));
    c.push(alloc(cell === 'lstm' ? hSlots : 0));
    tape.push(alloc(window * B * TW));
    wtIh.push(alloc(GH * inCols(l)));
    wtHh.push(alloc(GH * H));
    dhCarry.push(alloc(B * H));
    dcCarry.push(alloc(B * H));
  }
  const wtHead = alloc(O * H);
  const gi = alloc(B * GH);
  const gh = alloc(B * GH);
  // Backward scratch. LSTM and plain RNN have equal input- and hidden-side
  // pre-activation gradients, so one buffer serves both.
  const dgi = alloc(B * GH);
  const dghOwn = alloc(cell === 'gru' ? B * GH : 0);
  const dgh = cell === 'gru' ? dghOwn : dgi;
  const dOut = alloc(B * O);
  const dh = alloc(B * H);
  const dBelow = alloc(B * H);
  const dhDirect = alloc(B * H);

  /** out[outAt..] = W·v + bias for every lane; Wt is W transposed. Same bits on either path. */
  function product(W: Float64Array, Wt: Float64Array, bias: Float64Array, rows: number, cols: number, v: Float64Array, vAt: number, o: Float64Array, oAt: number): void {
    if (rows % 8 === 0 && B % 2 === 0) kernels.affine(Wt.byteOffset, bias.byteOffset, rows, cols, B, v.byteOffset + vAt * 8, o.byteOffset + oAt * 8);
    else affine(W, bias, rows, cols, B, v, vAt, o, oAt);
  }

  /** dW += dgᵀ·v, db += Σ dg over lanes. */
  function weightGradient(dW: Float64Array, db: Float64Array, rows: number, cols: number, dg: Float64Array, v: Float64Array, vAt: number): void {
    if (rows % 2 === 0 && cols % 8 === 0) {
      kernels.outer(dW.byteOffset, rows, cols, B, dg.byteOffset, v.byteOffset + vAt * 8);
      for (let b = 0; b < B; b++) for (let r = 0; r < rows; r++) db[r] = db[r]! + dg[b * rows + r]!;
    } else accumulateOuter(dW, db, rows, cols, B, dg, v, vAt);
  }

  /** dv += dg·W for every lane. */
  function inputGradient(W: Float64Array, rows: number, cols: number, dg: Float64Array, dv: Float64Array): void {
    if (B % 2 === 0 && cols % 8 === 0) kernels.back(W.byteOffset, rows, cols, B, dg.byteOffset, dv.byteOffset);
    else backThroughMatrix(W, rows, cols, B, dg, dv);
  }

  function transpose(W: Float64Array, rows: number, cols: number, Wt: Float64Array): void {
    for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) Wt[k * rows + r] = W[r * cols + k]!;
  }

  function forward(steps: number): void {
    for (let l = 0; l < L; l++) {
      transpose(params.layers[l]!.weightIh, GH, inCols(l), wtIh[l]!);
      transpose(params.layers[l]!.weightHh, GH, H, wtHh[l]!);
    }
    transpose(params.headWeight, O, H, wtHead);
    for (let t = 0; t < steps; t++) {
      const s0 = t * B * H;
      const s1 = (t + 1) * B * H;
      for (let l = 0; l < L; l++) {
        const w = params.layers[l]!;
        if (l === 0) product(w.weightIh, wtIh[l]!, w.biasIh, GH, I, x, t * B * I, gi, 0);
        else product(w.weightIh, wtIh[l]!, w.biasIh, GH, H, h[l - 1]!, s1, gi, 0);
        product(w.weightHh, wtHh[l]!, w.biasHh, GH, H, h[l]!, s0, gh, 0);
        cellForward(cell, H, B, gi, gh, 0, h[l]!, s0, c[l]!, s0, h[l]!, s1, c[l]!, s1, tape[l]!, t * B * TW);
      }
      product(params.headWeight, wtHead, params.headBias, O, H, h[L - 1]!, s1, out, t * B * O);
    }
  }

  function backward(kind: LossKind, delta: number, steps: number, count: number): void {
    grads.flat.fill(0);
    for (let l = 0; l < L; l++) {
      dhCarry[l]!.fill(0);
      dcCarry[l]!.fill(0);
    }
    for (let t = steps - 1; t >= 0; t--) {
      const s0 = t * B * H;
      const s1 = (t + 1) * B * H;
      lossGradient(kind, delta, out, y, t * B * O, B * O, 1 / count, dOut, 0);
      // Head: out = headWeight · hTop + headBias.
      const hTop = h[L - 1]!;
      weightGradient(grads.headWeight, grads.headBias, O, H, dOut, hTop, s1);
      dh.set(dhCarry[L - 1]!);
      inputGradient(params.headWeight, O, H, dOut, dh);
      for (let l = L - 1; l >= 0; l--) {
        if (l < L - 1) {
          // dh of layer l at step t: from the layer above (dBelow) and from step t + 1.
          const carried = dhCarry[l]!;
          for (let k = 0; k < B * H; k++) dh[k] = dBelow[k]! + carried[k]!;
        }
        const hl = h[l]!;
        cellBackward(cell, H, B, tape[l]!, t * B * TW, hl, s0, c[l]!, s0, hl, s1, dh, dcCarry[l]!, dgi, dgh, dhDirect);
        const w = params.layers[l]!;
        const g = grads.layers[l]!;
        if (l === 0) weightGradient(g.weightIh, g.biasIh, GH, I, dgi, x, t * B * I);
        else weightGradient(g.weightIh, g.biasIh, GH, H, dgi, h[l - 1]!, s1);
        weightGradient(g.weightHh, g.biasHh, GH, H, dgh, hl, s0);
        const carried = dhCarry[l]!;
        carried.set(dhDirect);
        inputGradient(w.weightHh, GH, H, dgh, carried);
        if (l > 0) {
          dBelow.fill(0);
          inputGradient(w.weightIh, GH, H, dgi, dBelow);
        }
      }
    }
  }

  return {
    spec,
    lanes: B,
    window,
    params,
    grads,
    x,
    y,
    out,
    h,
    c,
    resetState() {
      for (let l = 0; l < L; l++) {
        h[l]!.fill(0, 0, B * H);
        c[l]!.fill(0, 0, c[l]!.length === 0 ? 0 : B * H);
      }
    },
    carry(steps) {
      for (let l = 0; l < L; l++) {
        h[l]!.copyWithin(0, steps * B * H, (steps + 1) * B * H);
        if (cell === 'lstm') c[l]!.copyWithin(0, steps * B * H, (steps + 1) * B * H);
      }
    },
    load(sequences, laneList, from, steps) {
      for (let t = 0; t < steps; t++) {
        const row = from + t;
        for (let b = 0; b < B; b++) {
          const xAt = (t * B + b) * I;
          const yAt = (t * B + b) * O;
          const lane = laneList[b];
          if (lane === undefined || row >= lane.length) {
            x.fill(0, xAt, xAt + I);
            y.fill(NaN, yAt, yAt + O);
            continue;
          }
          const s = sequences[lane.sequence]!;
          const src = lane.start + row;
          for (let k = 0; k < I; k++) x[xAt + k] = s.inputs[src * I + k]!;
          if (src < (s.scoreFrom ?? 0)) y.fill(NaN, yAt, yAt + O);
          else for (let o = 0; o < O; o++) y[yAt + o] = s.targets[src * O + o]!;
        }
      }
    },
    forward,
    loss(kind, delta, steps) {
      return lossSum(kind, delta, out, y, 0, steps * B * O);
    },
    backward,
  };
}

/**
 * dW[r, k] += Σ_b dg[b, r] · v[vAt + b*cols + k] and db[r] += Σ_b dg[b, r]:
 * the weight and bias gradients of an affine map W·v + b with output
 * gradient dg [lanes x rows]. Four lanes go into each pass over a row of dW,
 * so that row is loaded and stored once per four lanes; the order of the sums
 * is fixed, so results are repeatable.
 */
function accumulateOuter(
  dW: Float64Array,
  db: Float64Array,
  rows: number,
  cols: number,
  lanes: number,
  dg: Float64Array,
  v: Float64Array,
  vAt: number,
): void {
  let b = 0;
  for (; b + 4 <= lanes; b += 4) {
    const g0 = b * rows;
    const v0 = vAt + b * cols;
    const v1 = v0 + cols;
    const v2 = v1 + cols;
    const v3 = v2 + cols;
    for (let r = 0; r < rows; r++) {
      const a0 = dg[g0 + r]!;
      const a1 = dg[g0 + rows + r]!;
      const a2 = dg[g0 + 2 * rows + r]!;
      const a3 = dg[g0 + 3 * rows + r]!;
      // Saturated gates and masked targets give exact zeros; skip their rows.
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
      db[r] = db[r]! + a0 + a1 + a2 + a3;
      const w0 = r * cols;
      for (let k = 0; k < cols; k++) {
        dW[w0 + k] = dW[w0 + k]! + a0 * v[v0 + k]! + a1 * v[v1 + k]! + a2 * v[v2 + k]! + a3 * v[v3 + k]!;
      }
    }
  }
  for (; b < lanes; b++) {
    const g0 = b * rows;
    const v0 = vAt + b * cols;
    for (let r = 0; r < rows; r++) {
      const a = dg[g0 + r]!;
      if (a === 0) continue;
      db[r] = db[r]! + a;
      const w0 = r * cols;
      for (let k = 0; k < cols; k++) dW[w0 + k] = dW[w0 + k]! + a * v[v0 + k]!;
    }
  }
}

/**
 * dv[b*cols + k] += Σ_r dg[b, r] · W[r, k]: the input gradient of W·v for
 * each lane. Four rows of W and two lanes go into each pass, so every dv
 * element is loaded and stored once per four rows and every W element
 * loaded once per two lanes.
 */
function backThroughMatrix(W: Float64Array, rows: number, cols: number, lanes: number, dg: Float64Array, dv: Float64Array): void {
  let b = 0;
  for (; b + 2 <= lanes; b += 2) {
    const g0 = b * rows;
    const g1 = g0 + rows;
    const v0 = b * cols;
    const v1 = v0 + cols;
    let r = 0;
    for (; r + 4 <= rows; r += 4) {
      const a0 = dg[g0 + r]!;
      const a1 = dg[g0 + r + 1]!;
      const a2 = dg[g0 + r + 2]!;
      const a3 = dg[g0 + r + 3]!;
      const c0 = dg[g1 + r]!;
      const c1 = dg[g1 + r + 1]!;
      const c2 = dg[g1 + r + 2]!;
      const c3 = dg[g1 + r + 3]!;
      const w0 = r * cols;
      const w1 = w0 + cols;
      const w2 = w1 + cols;
      const w3 = w2 + cols;
      for (let k = 0; k < cols; k++) {
        const x0 = W[w0 + k]!;
        const x1 = W[w1 + k]!;
        const x2 = W[w2 + k]!;
        const x3 = W[w3 + k]!;
        dv[v0 + k] = dv[v0 + k]! + a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3;
        dv[v1 + k] = dv[v1 + k]! + c0 * x0 + c1 * x1 + c2 * x2 + c3 * x3;
      }
    }
    for (; r < rows; r++) {
      const a = dg[g0 + r]!;
      const c = dg[g1 + r]!;
      const w0 = r * cols;
      for (let k = 0; k < cols; k++) {
        dv[v0 + k] = dv[v0 + k]! + a * W[w0 + k]!;
        dv[v1 + k] = dv[v1 + k]! + c * W[w0 + k]!;
      }
    }
  }
  for (; b < lanes; b++) {
    const g0 = b * rows;
    const v0 = b * cols;
    for (let r = 0; r < rows; r++) {
      const a = dg[g0 + r]!;
      if (a === 0) continue;
      const w0 = r * cols;
      for (let k = 0; k < cols; k++) dv[v0 + k] = dv[v0 + k]! + a * W[w0 + k]!;
    }
  }
}
