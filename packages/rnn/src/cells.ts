import type { CellType } from './types.ts';

/**
 * The cell equations, written once. The reference stepper (./reference.ts)
 * steps through them one stream at a time; the trainer (./engine.ts) steps
 * many lanes at once and keeps the gate activations on its tape for the
 * backward pass. Both therefore compute the very same float64 numbers for the
 * same weights and inputs, and the trainer cannot drift from what the
 * reference (and, through the fast-vs-reference tests, the served kernel)
 * computes.
 *
 * Layout shared by every function here. Lanes are contiguous rows: a state
 * array holds [lanes x H] from its offset, a pre-activation array [lanes x G*H]
 * in PyTorch's gate order (LSTM i,f,g,o; GRU r,z,n; RNN one gate), and a tape
 * [lanes x tapeWidth]. Pre-activations come in two halves because GRU needs
 * them apart: `gi` = W_ih x + b_ih and `gh` = W_hh hPrev + b_hh.
 *
 * Equations, with both PyTorch biases added:
 *   LSTM: i = σ(gi_i + gh_i), f = σ(gi_f + gh_f), g = tanh(gi_g + gh_g), o = σ(gi_o + gh_o)
 *         c = f * cPrev + i * g,  h = o * tanh(c)
 *   GRU:  r = σ(gi_r + gh_r), z = σ(gi_z + gh_z), n = tanh(gi_n + r * gh_n)
 *         h = (1 - z) * n + z * hPrev
 *   rnn_tanh: h = tanh(gi + gh);  rnn_relu: h = max(0, gi + gh)
 */

/** Either float width: storage may be float32 (served state) or float64 (trainer, drift checks). */
export type FloatArray = Float32Array | Float64Array;

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/**
 * Floats per lane the forward pass keeps for the backward pass:
 * LSTM [i | f | g | o | tanh(c)], GRU [r | z | n | gh_n], plain RNN nothing
 * (its h is its own derivative's input).
 */
export function tapeWidth(cell: CellType, H: number): number {
  return cell === 'lstm' ? 5 * H : cell === 'gru' ? 4 * H : 0;
}

/**
 * `out[outAt + b*rows + r] = bias[r] + Σ_k W[r*cols + k] · v[vAt + b*cols + k]`
 * for `lanes` lanes: an affine map over row-major W [rows x cols].
 *
 * Each sum starts from the bias and adds the products for k = 0, 1, ... in
 * order, in float64; the reference stepper's numbers depend on that order, so
 * the trainer gets the same bits (its WebAssembly product, ./wasm/train-kernels.ts,
 * keeps the order too). Two rows of four lanes are summed side by side, each
 * sum in that same order, only to give the CPU independent chains to overlap.
 */
export function affine(
  W: FloatArray,
  bias: FloatArray,
  rows: number,
  cols: number,
  lanes: number,
  v: FloatArray,
  vAt: number,
  out: Float64Array,
  outAt: number,
): void {
  let b = 0;
  for (; b + 4 <= lanes; b += 4) {
    const v0 = vAt + b * cols;
    const v1 = v0 + cols;
    const v2 = v1 + cols;
    const v3 = v2 + cols;
    const o0 = outAt + b * rows;
    let r = 0;
    // Two rows by four lanes: eight independent sums, each weight loaded once per four lanes.
    for (; r + 2 <= rows; r += 2) {
      const w0 = r * cols;
      const w1 = w0 + cols;
      const b0 = bias[r]!;
      const b1 = bias[r + 1]!;
      let s0 = b0;
      let s1 = b0;
      let s2 = b0;
      let s3 = b0;
      let t0 = b1;
      let t1 = b1;
      let t2 = b1;
      let t3 = b1;
      for (let k = 0; k < cols; k++) {
        const w = W[w0 + k]!;
        const u = W[w1 + k]!;
        const x0 = v[v0 + k]!;
        const x1 = v[v1 + k]!;
        const x2 = v[v2 + k]!;
        const x3 = v[v3 + k]!;
        s0 += w * x0;
        s1 += w * x1;
        s2 += w * x2;
        s3 += w * x3;
        t0 += u * x0;
        t1 += u * x1;
        t2 += u * x2;
        t3 += u * x3;
      }
      out[o0 + r] = s0;
      out[o0 + rows + r] = s1;
      out[o0 + 2 * rows + r] = s2;
      out[o0 + 3 * rows + r] = s3;
      out[o0 + r + 1] = t0;
      out[o0 + rows + r + 1] = t1;
      out[o0 + 2 * rows + r + 1] = t2;
      out[o0 + 3 * rows + r + 1] = t3;
    }
    for (; r < rows; r++) {
      const w0 = r * cols;
      const br = bias[r]!;
      let s0 = br;
      let s1 = br;
      let s2 = br;
      let s3 = br;
      for (let k = 0; k < cols; k++) {
        const w = W[w0 + k]!;
        s0 += w * v[v0 + k]!;
        s1 += w * v[v1 + k]!;
        s2 += w * v[v2 + k]!;
        s3 += w * v[v3 + k]!;
      }
      out[o0 + r] = s0;
      out[o0 + rows + r] = s1;
      out[o0 + 2 * rows + r] = s2;
      out[o0 + 3 * rows + r] = s3;
    }
  }
  for (; b < lanes; b++) {
    const v0 = vAt + b * cols;
    const o0 = outAt + b * rows;
    for (let r = 0; r < rows; r++) {
      const w0 = r * cols;
      let s = bias[r]!;
      for (let k = 0; k < cols; k++) s += W[w0 + k]! * v[v0 + k]!;
      out[o0 + r] = s;
    }
  }
}

/**
 * One step of one layer for `lanes` lanes: from the pre-activations `gi`, `gh`
 * (at `gAt`) and the previous state, writes the new `h` (and LSTM `c`), and
 * the tape when one is given (see {@link tapeWidth}).
 *
 * `cPrev`/`c` may be the same array at the same offset (the reference updates
 * its state row in place); `hPrev` must not alias `h`, since GRU reads hPrev
 * after h is written. With float32 storage, h and c are rounded as they are
 * stored, and h uses c as stored, as PyTorch's float32 tensors do.
 */
export function cellForward(
  cell: CellType,
  H: number,
  lanes: number,
  gi: Float64Array,
  gh: Float64Array,
  gAt: number,
  hPrev: FloatArray,
  hPrevAt: number,
  cPrev: FloatArray,
  cPrevAt: number,
  h: FloatArray,
  hAt: number,
  c: FloatArray,
  cAt: number,
  tape: Float64Array | null,
  tapeAt: number,
): void {
  const GH = cell === 'lstm' ? 4 * H : cell === 'gru' ? 3 * H : H;
  const T = tapeWidth(cell, H);
  for (let b = 0; b < lanes; b++) {
    const g0 = gAt + b * GH;
    const hp = hPrevAt + b * H;
    const hn = hAt + b * H;
    const t0 = tapeAt + b * T;
    if (cell === 'lstm') {
      const cp = cPrevAt + b * H;
      const cn = cAt + b * H;
      for (let j = 0; j < H; j++) {
        const i = sigmoid(gi[g0 + j]! + gh[g0 + j]!);
        const f = sigmoid(gi[g0 + H + j]! + gh[g0 + H + j]!);
        const g = Math.tanh(gi[g0 + 2 * H + j]! + gh[g0 + 2 * H + j]!);
        const o = sigmoid(gi[g0 + 3 * H + j]! + gh[g0 + 3 * H + j]!);
        c[cn + j] = f * cPrev[cp + j]! + i * g;
        const tc = Math.tanh(c[cn + j]!);
        h[hn + j] = o * tc;
        if (tape !== null) {
          tape[t0 + j] = i;
          tape[t0 + H + j] = f;
          tape[t0 + 2 * H + j] = g;
          tape[t0 + 3 * H + j] = o;
          tape[t0 + 4 * H + j] = tc;
        }
      }
    } else if (cell === 'gru') {
      for (let j = 0; j < H; j++) {
        const r = sigmoid(gi[g0 + j]! + gh[g0 + j]!);
        const z = sigmoid(gi[g0 + H + j]! + gh[g0 + H + j]!);
        const ghn = gh[g0 + 2 * H + j]!;
        const n = Math.tanh(gi[g0 + 2 * H + j]! + r * ghn);
        h[hn + j] = (1 - z) * n + z * hPrev[hp + j]!;
        if (tape !== null) {
          tape[t0 + j] = r;
          tape[t0 + H + j] = z;
          tape[t0 + 2 * H + j] = n;
          tape[t0 + 3 * H + j] = ghn;
        }
      }
    } else if (cell === 'rnn_tanh') {
      for (let j = 0; j < H; j++) h[hn + j] = Math.tanh(gi[g0 + j]! + gh[g0 + j]!);
    } else {
      for (let j = 0; j < H; j++) h[hn + j] = Math.max(0, gi[g0 + j]! + gh[g0 + j]!);
    }
  }
}

/**
 * The derivative of {@link cellForward} for `lanes` lanes, float64 only.
 *
 * In: `dh` (dLoss/dh of this step, everything that reaches h), for LSTM `dc`
 * (dLoss/dc arriving from the next step), the tape, hPrev and cPrev of the
 * forward step. Out: `dgi`, `dgh` (dLoss/d pre-activations, [lanes x G*H]),
 * the part of dLoss/dhPrev that bypasses W_hh (GRU's z·hPrev term, written to
 * `dhPrev`, zero otherwise) and, for LSTM, dLoss/dcPrev written over `dc`.
 * For LSTM and RNN `dgi` and `dgh` are equal and may be the same array.
 */
export function cellBackward(
  cell: CellType,
  H: number,
  lanes: number,
  tape: Float64Array,
  tapeAt: number,
  hPrev: Float64Array,
  hPrevAt: number,
  cPrev: Float64Array,
  cPrevAt: number,
  h: Float64Array,
  hAt: number,
  dh: Float64Array,
  dc: Float64Array,
  dgi: Float64Array,
  dgh: Float64Array,
  dhPrev: Float64Array,
): void {
  const GH = cell === 'lstm' ? 4 * H : cell === 'gru' ? 3 * H : H;
  const T = tapeWidth(cell, H);
  for (let b = 0; b < lanes; b++) {
    const g0 = b * GH;
    const s0 = b * H;
    const t0 = tapeAt + b * T;
    if (cell === 'lstm') {
      const cp = cPrevAt + s0;
      for (let j = 0; j < H; j++) {
        const i = tape[t0 + j]!;
        const f = tape[t0 + H + j]!;
        const g = tape[t0 + 2 * H + j]!;
        const o = tape[t0 + 3 * H + j]!;
        const tc = tape[t0 + 4 * H + j]!;
        const dhj = dh[s0 + j]!;
        const dcj = dc[s0 + j]! + dhj * o * (1 - tc * tc);
        const ai = dcj * g * i * (1 - i);
        const af = dcj * cPrev[cp + j]! * f * (1 - f);
        const ag = dcj * i * (1 - g * g);
        const ao = dhj * tc * o * (1 - o);
        dgi[g0 + j] = ai;
        dgi[g0 + H + j] = af;
        dgi[g0 + 2 * H + j] = ag;
        dgi[g0 + 3 * H + j] = ao;
        dgh[g0 + j] = ai;
        dgh[g0 + H + j] = af;
        dgh[g0 + 2 * H + j] = ag;
        dgh[g0 + 3 * H + j] = ao;
        dc[s0 + j] = dcj * f;
        dhPrev[s0 + j] = 0;
      }
    } else if (cell === 'gru') {
      const hp = hPrevAt + s0;
      for (let j = 0; j < H; j++) {
        const r = tape[t0 + j]!;
        const z = tape[t0 + H + j]!;
        const n = tape[t0 + 2 * H + j]!;
        const ghn = tape[t0 + 3 * H + j]!;
        const dhj = dh[s0 + j]!;
        const an = dhj * (1 - z) * (1 - n * n);
        const az = dhj * (hPrev[hp + j]! - n) * z * (1 - z);
        const ar = an * ghn * r * (1 - r);
        dgi[g0 + j] = ar;
        dgi[g0 + H + j] = az;
        dgi[g0 + 2 * H + j] = an;
        dgh[g0 + j] = ar;
        dgh[g0 + H + j] = az;
        dgh[g0 + 2 * H + j] = an * r;
        dhPrev[s0 + j] = dhj * z;
      }
    } else if (cell === 'rnn_tanh') {
      const hn = hAt + s0;
      for (let j = 0; j < H; j++) {
        const v = h[hn + j]!;
        const a = dh[s0 + j]! * (1 - v * v);
        dgi[g0 + j] = a;
        dgh[g0 + j] = a;
        dhPrev[s0 + j] = 0;
      }
    } else {
      const hn = hAt + s0;
      for (let j = 0; j < H; j++) {
        // PyTorch's relu passes the gradient where the output is positive.
        const a = h[hn + j]! > 0 ? dh[s0 + j]! : 0;
        dgi[g0 + j] = a;
        dgh[g0 + j] = a;
        dhPrev[s0 + j] = 0;
      }
    }
  }
}
