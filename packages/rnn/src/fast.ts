import { checkMaxBatch, stateSize, validateWeights } from './spec.ts';
import type { RnnSpec, RnnWeights, Stepper } from './types.ts';
import {
  activationScratch,
  emitActivationConstants,
  emitConstant,
  emitSigmoid,
  emitTanh,
  SIGMOID_INPUT_SCALE,
  TANH_INPUT_SCALE,
} from './wasm/activations.ts';
import type { ActivationScratch } from './wasm/activations.ts';
import { encodeModule, FunctionBuilder } from './wasm/encoder.ts';
import type { Emit } from './wasm/encoder.ts';
import { instantiate, validate, wasmRevectorize } from './wasm/runtime.ts';

/**
 * The fast stepper: a WebAssembly SIMD kernel generated at load time for one
 * model's sizes (no build step, no binary in git; ./wasm/encoder.ts writes
 * the bytes).
 *
 * Shape of the kernel. Streams go through in tiles of `rowTile` rows. For each
 * layer the fused gate pre-activations of a tile are one small matrix
 * product: the gate columns are vectorised four at a time (f32x4), with the
 * weights transposed and packed at construction into panels of `colTile`
 * column blocks, so one pass over the inputs feeds rowTile × colTile vector
 * accumulators held in registers: each input is broadcast once per row and
 * each weight vector loaded once per tile. Where V8's revectorizer is on
 * (x86-64 with AVX2, see ./wasm/runtime.ts), pairs of neighbouring 4-column
 * blocks run as one 256-bit instruction, and the default 4 × 4 tile (8 ymm
 * accumulators) is fastest; without it, the default 2 × 6 tile uses the 15
 * vector registers V8 gives wasm on x64 without spilling. The weights and bias of every gate are
 * packed pre-multiplied by its activation's input scale (log2 e for σ, 2·log2 e
 * for tanh), so the product yields base-2 arguments and the activations skip
 * their range-reduction multiplies. The nonlinearities (σ and tanh in SIMD, see
 * ./wasm/activations.ts) then run over the tile in short independent loop
 * iterations, two neighbouring blocks each (for the revectorizer), writing h
 * (and c) back in place; then the next layer, then the linear head.
 *
 * Determinism. Each output lane is one row's dot product summed in a fixed
 * order: bias, then the layer input k = 0..K−1, then hPrev k = 0..H−1 (the
 * scaled weights are fixed at construction, so they change no ordering). Lanes
 * never mix, rows never mix, and the order does not depend on the tile shape
 * (tests check tilings against each other bit for bit). A batch whose size is
 * not a multiple of rowTile runs its last rows through a tile function of
 * that many rows, generated the same way, so a stream's bits do not depend on
 * the batch size or its row. Nor on the revectorizer: a 256-bit instruction
 * does per lane exactly what the two 128-bit ones did.
 *
 * The multiply-add is `f32x4.relaxed_madd` when the engine validates it (about
 * 1.35x faster here). V8 lowers it to a fused FMA whenever the CPU has one,
 * the same way in its baseline and optimising tiers, so results are stable
 * within a process and across FMA-capable machines; `fusedMultiplyAdd` says
 * which arithmetic a machine got. A fleet that mixes CPUs with and without
 * FMA should pass `relaxedSimd: false`: separate multiply and add, the same
 * bits everywhere (and the same bits relaxed SIMD gives on a CPU without FMA).
 */

/** Options of {@link createStepper}. */
export interface StepperOptions {
  /** Largest batch one step() call accepts; memory for it is reserved up front. */
  readonly maxBatch: number;
  /**
   * Use `f32x4.relaxed_madd` (default: when the engine validates it). False
   * forces a separate multiply and add, the same bits on every machine.
   */
  readonly relaxedSimd?: boolean;
  /** Rows per tile (tuning; results do not depend on it). Default 4 when revectorized, else 2. */
  readonly rowTile?: number;
  /** 4-column blocks per register tile (tuning; results do not depend on it). Default 4 when revectorized, else 6. */
  readonly colTile?: number;
  /** Unrolling of the inner product loop (tuning). Default 2. */
  readonly unroll?: number;
}

/** Caller-layout views of the kernel's own memory; see {@link FastStepper.buffers}. */
export interface StepperBuffers {
  /** [maxBatch x inputSize] */
  readonly x: Float32Array;
  /** [maxBatch x stateSize] */
  readonly state: Float32Array;
  /** [maxBatch x outputSize] */
  readonly out: Float32Array;
}

/** The {@link Stepper} returned by {@link createStepper}. */
export interface FastStepper extends Stepper {
  /**
   * Views into the kernel's memory laid out exactly like step()'s arguments.
   * Passing these very arrays to step() skips the copies in and out (the
   * worker fills them in place); any other arrays are copied.
   */
  readonly buffers: StepperBuffers;
  /** Whether the kernel's multiply-adds are fused (one rounding) on this machine. */
  readonly fusedMultiplyAdd: boolean;
  /** Whether the kernel was built with relaxed SIMD. */
  readonly relaxedSimd: boolean;
  /** Whether V8's revectorizer runs its hot loops as 256-bit AVX2 (see wasmRevectorize). */
  readonly revectorized: boolean;
}

let relaxedSupport: boolean | undefined;

/** True when this engine validates `f32x4.relaxed_madd` (cached). */
export function relaxedSimdSupported(): boolean {
  if (relaxedSupport === undefined) {
    const f = new FunctionBuilder([], [], true);
    f.f32x4Const(1);
    f.f32x4Const(2);
    f.f32x4Const(3);
    f.relaxedMadd();
    f.drop();
    relaxedSupport = validate(encodeModule(1, [{ body: f }]));
  }
  return relaxedSupport;
}

// ---------------------------------------------------------------------------
// Plan: the column groups of every layer and the memory layout.

/** A run of inputs of one row: `count` floats at `offset` bytes from the row start in x or state. */
interface KRange {
  readonly base: 'x' | 's';
  readonly offset: number;
  readonly count: number;
}

/**
 * Columns computed by one matrix product over the same input ranges. `value`
 * gives the packed weight for column `col` (lane of the 4-wide blocks) and the
 * k-th input of range `range`; padding columns are zero.
 */
interface ColumnGroup {
  readonly cols: number;
  readonly ranges: readonly KRange[];
  value(col: number, range: number, k: number): number;
  bias(col: number): number;
}

const roundUp4 = (n: number): number => Math.ceil(n / 4) * 4;
const align64 = (n: number): number => Math.ceil(n / 64) * 64;

function layerGroups(weights: RnnWeights, layer: number): { groups: ColumnGroup[]; gWidth: number } {
  const { cell, inputSize, hiddenSize: H } = weights;
  const Hp = roundUp4(H);
  const w = weights.layers[layer]!;
  const inCols = layer === 0 ? inputSize : H;
  const input: KRange = layer === 0 ? { base: 'x', offset: 0, count: inputSize } : { base: 's', offset: (layer - 1) * H * 4, count: H };
  const hidden: KRange = { base: 's', offset: layer * H * 4, count: H };
  // gates: PyTorch gate indices covered by the group, each padded to Hp columns.
  // scales: what each gate's weights and bias are multiplied by (the input scale of its activation).
  const group = (gates: readonly number[], scales: readonly number[], useIh: boolean, useHh: boolean): ColumnGroup => {
    const mats: { m: Float32Array; cols: number }[] = [];
    const ranges: KRange[] = [];
    if (useIh) {
      mats.push({ m: w.weightIh, cols: inCols });
      ranges.push(input);
    }
    if (useHh) {
      mats.push({ m: w.weightHh, cols: H });
      ranges.push(hidden);
    }
    const rowOf = (col: number): number | undefined => {
      const j = col % Hp;
      return j < H ? gates[Math.floor(col / Hp)]! * H + j : undefined;
    };
    const scaleOf = (col: number): number => scales[Math.floor(col / Hp)]!;
    return {
      cols: gates.length * Hp,
      ranges,
      value(col, range, k) {
        const row = rowOf(col);
        const { m, cols } = mats[range]!;
        // Rounded to float32 once, when packed.
        return row === undefined ? 0 : m[row * cols + k]! * scaleOf(col);
      },
      bias(col) {
        const row = rowOf(col);
        if (row === undefined) return 0;
        // Both PyTorch biases, summed and scaled in float64 and rounded once to
        // float32: the accumulator starts from it.
        return Math.fround(((useIh ? w.biasIh[row]! : 0) + (useHh ? w.biasHh[row]! : 0)) * scaleOf(col));
      },
    };
  };
  if (cell === 'gru') {
    // n needs W_in x + b_in and W_hn h + b_hn apart (r multiplies the latter only).
    const sig = SIGMOID_INPUT_SCALE;
    const tanh = TANH_INPUT_SCALE;
    const groups = [group([0, 1], [sig, sig], true, true), group([2], [tanh], true, false), group([2], [tanh], false, true)];
    return { groups, gWidth: 4 * Hp };
  }
  if (cell === 'lstm') {
    // G holds [i | f | o | g] so that the three sigmoids are one contiguous run.
    const sig = SIGMOID_INPUT_SCALE;
    return { groups: [group([0, 1, 3, 2], [sig, sig, sig, TANH_INPUT_SCALE], true, true)], gWidth: 4 * Hp };
  }
  return { groups: [group([0], [cell === 'rnn_tanh' ? TANH_INPUT_SCALE : 1], true, true)], gWidth: Hp };
}

function headGroup(weights: RnnWeights): ColumnGroup {
  const { hiddenSize: H, numLayers, outputSize: O } = weights;
  return {
    cols: roundUp4(O),
    ranges: [{ base: 's', offset: (numLayers - 1) * H * 4, count: H }],
    value: (col, _range, k) => (col < O ? weights.headWeight[col * H + k]! : 0),
    bias: (col) => (col < O ? weights.headBias[col]! : 0),
  };
}

interface PlacedGroup {
  readonly group: ColumnGroup;
  /** Byte address of the packed panels. */
  readonly panel: number;
  /** Byte address of the packed bias. */
  readonly bias: number;
  /** Byte offset of the group's first column inside a G row (gate groups only). */
  readonly gColumn: number;
}

/** Writes panels tile by tile: for each tile, for each range, for each k, colTile blocks of 4 lanes. */
function packGroup(mem: Float32Array, placed: PlacedGroup, colTile: number): void {
  const { group } = placed;
  const blocks = group.cols / 4;
  let at = placed.panel / 4;
  for (let t0 = 0; t0 < blocks; t0 += colTile) {
    const rt = Math.min(colTile, blocks - t0);
    group.ranges.forEach((range, ri) => {
      for (let k = 0; k < range.count; k++) {
        for (let c = t0 * 4; c < (t0 + rt) * 4; c++) mem[at++] = group.value(c, ri, k);
      }
    });
  }
  for (let c = 0; c < group.cols; c++) mem[placed.bias / 4 + c] = group.bias(c);
}

function panelFloats(group: ColumnGroup): number {
  return group.cols * group.ranges.reduce((sum, r) => sum + r.count, 0);
}

// ---------------------------------------------------------------------------
// Code generation.

interface KernelShape {
  readonly spec: RnnSpec;
  readonly S: number;
  readonly Hp: number;
  readonly rowTile: number;
  readonly colTile: number;
  readonly unroll: number;
  /** Bytes between rows of the G (pre-activation) scratch. */
  readonly gStride: number;
  /** Byte address of the G scratch. */
  readonly gAddr: number;
}

/** Locals of the tile function. */
interface TileLocals {
  readonly xp: number;
  readonly sp: number;
  readonly op: number;
  readonly p: number;
  readonly pEnd: number;
  readonly pw: number;
  readonly pb: number;
  readonly pc: number;
  readonly acc: number[][];
  readonly w: number;
  readonly s: number[];
}

/**
 * Emits one group's product for a tile: acc[b][r] = bias + Σ_k in[b][k]·w[k][r]
 * for every 4-column block r, summed in input order, then stores each
 * accumulator: into the G scratch for gate groups, or straight into the out
 * rows for the head (lane by lane for a last partial block, so that a row
 * never writes into the next one).
 */
function emitGroupProduct(
  f: FunctionBuilder,
  L: TileLocals,
  shape: KernelShape,
  placed: PlacedGroup,
  target: { kind: 'g' } | { kind: 'out'; outSize: number },
): void {
  const { rowTile: TB, colTile: R, unroll: U, spec, S } = shape;
  const group = placed.group;
  const blocks = group.cols / 4;
  const strideOf = (range: KRange): number => (range.base === 'x' ? spec.inputSize * 4 : S * 4);
  // The tile whose stores may be partial (head with outputSize % 4 != 0) must be straight-line code.
  const partialLanes = target.kind === 'out' ? target.outSize % 4 : 0;
  const fullTiles = partialLanes !== 0 ? Math.floor((blocks - 1) / R) : Math.floor(blocks / R);
  const lastTile = blocks - fullTiles * R;

  /**
   * One input index k for the tile: broadcast each row's input once, then
   * stream the weight blocks, each feeding one accumulator per row. With the
   * default 2 rows x 6 blocks that is 12 accumulators + 2 broadcasts + 1
   * weight = 15 vector registers, what V8 allocates on x64 without spilling.
   */
  const kStep = (rt: number, xOff: number, wOff: number, range: KRange): void => {
    for (let b = 0; b < TB; b++) {
      f.get(L.p);
      f.loadSplat(b * strideOf(range) + xOff);
      f.set(L.s[b]!);
    }
    for (let r = 0; r < rt; r++) {
      f.get(L.pw);
      f.load(wOff + r * 16);
      f.set(L.w);
      for (let b = 0; b < TB; b++) {
        const acc = L.acc[b]![r]!;
        f.madd(
          () => f.get(L.s[b]!),
          () => f.get(L.w),
          () => f.get(acc),
        );
        f.set(acc);
      }
    }
  };

  const tileBody = (rt: number, isLast: boolean): void => {
    for (let r = 0; r < rt; r++) {
      f.get(L.pb);
      f.load(r * 16);
      f.set(L.w);
      for (let b = 0; b < TB; b++) {
        f.get(L.w);
        f.set(L.acc[b]![r]!);
      }
    }
    for (const range of group.ranges) {
      f.get(range.base === 'x' ? L.xp : L.sp);
      if (range.offset !== 0) {
        f.i32(range.offset);
        f.i32Add();
      }
      f.set(L.p);
      const iters = Math.floor(range.count / U);
      const rest = range.count % U;
      if (iters > 0) {
        f.get(L.p);
        f.i32(iters * U * 4);
        f.i32Add();
        f.set(L.pEnd);
        f.loop();
        for (let u = 0; u < U; u++) kStep(rt, u * 4, u * rt * 16, range);
        f.addTo(L.pw, U * rt * 16);
        f.get(L.p);
        f.i32(U * 4);
        f.i32Add();
        f.tee(L.p);
        f.get(L.pEnd);
        f.i32Ne();
        f.brIf(0);
        f.end();
      }
      for (let u = 0; u < rest; u++) kStep(rt, u * 4, u * rt * 16, range);
      f.addTo(L.pw, rest * rt * 16);
    }
    for (let b = 0; b < TB; b++) {
      for (let r = 0; r < rt; r++) {
        const acc = L.acc[b]![r]!;
        const rowOff = target.kind === 'g' ? b * shape.gStride : b * target.outSize * 4;
        const lanes = isLast && r === rt - 1 && partialLanes !== 0 ? partialLanes : 4;
        if (lanes === 4) {
          f.get(L.pc);
          f.get(acc);
          f.store(rowOff + r * 16);
        } else {
          for (let lane = 0; lane < lanes; lane++) {
            f.get(L.pc);
            f.get(acc);
            f.storeLane(rowOff + r * 16 + lane * 4, lane);
          }
        }
      }
    }
  };

  f.i32(placed.panel);
  f.set(L.pw);
  f.i32(placed.bias);
  f.set(L.pb);
  if (target.kind === 'g') {
    f.i32(shape.gAddr + placed.gColumn);
  } else {
    f.get(L.op);
  }
  f.set(L.pc);
  if (fullTiles > 0) {
    f.loop();
    tileBody(R, false);
    f.addTo(L.pc, R * 16);
    f.get(L.pb);
    f.i32(R * 16);
    f.i32Add();
    f.tee(L.pb);
    f.i32(placed.bias + fullTiles * R * 16);
    f.i32Ne();
    f.brIf(0);
    f.end();
  }
  if (lastTile > 0) tileBody(lastTile, true);
}

/** Locals of the activation passes. */
interface ActLocals {
  readonly pg: number;
  readonly ps: number;
  readonly rowG: number;
  readonly rowS: number;
  /** Results of the blocks of one loop iteration: [h, c] per block. */
  readonly v: readonly (readonly [number, number])[];
  readonly scratch: ActivationScratch;
}

/**
 * Loops over the tile's rows, and inside each row over the 4-unit blocks
 * [fromBlock, toBlock) of the G scratch, with A.pg pointing at the block and
 * A.ps at the same block offset of the row's state; `body(offsets)` emits the
 * work of the blocks that many bytes past them. With `pairs`, each iteration
 * does two adjacent blocks (offsets 0 and 16): two identical expression trees
 * whose loads and stores are neighbours, which V8's wasm revectorizer (see
 * ./wasm/runtime.ts) fuses into 256-bit instructions. The body must compute
 * both before it stores either (a store between them would stop the fusion);
 * an odd last block runs alone.
 */
function emitBlockLoop(
  f: FunctionBuilder,
  L: TileLocals,
  A: ActLocals,
  shape: KernelShape,
  fromBlock: number,
  toBlock: number,
  body: (offsets: readonly number[]) => void,
  pairs = true,
): void {
  const { S, rowTile: TB, gStride, gAddr } = shape;
  f.i32(gAddr);
  f.set(A.rowG);
  f.get(L.sp);
  f.set(A.rowS);
  f.loop(); // rows of the tile
  f.get(A.rowG);
  if (fromBlock !== 0) {
    f.i32(fromBlock * 16);
    f.i32Add();
  }
  f.set(A.pg);
  f.get(A.rowS);
  if (fromBlock !== 0) {
    f.i32(fromBlock * 16);
    f.i32Add();
  }
  f.set(A.ps);
  // Blocks go two at a time (see the comment above), then a last odd one.
  const per = pairs ? 2 : 1;
  const looped = Math.floor((toBlock - fromBlock) / per) * per;
  if (looped > 0) {
    f.loop(); // blocks
    body(per === 2 ? [0, 16] : [0]);
    f.addTo(A.ps, per * 16);
    f.get(A.pg);
    f.i32(per * 16);
    f.i32Add();
    f.tee(A.pg);
    f.get(A.rowG);
    f.i32((fromBlock + looped) * 16);
    f.i32Add();
    f.i32Ne();
    f.brIf(0);
    f.end();
  }
  if (fromBlock + looped < toBlock) body([0]);
  f.addTo(A.rowS, S * 4);
  f.get(A.rowG);
  f.i32(gStride);
  f.i32Add();
  f.tee(A.rowG);
  f.i32(gAddr + TB * gStride);
  f.i32Ne();
  f.brIf(0);
  f.end();
}

/**
 * Emits the nonlinearities of one layer over the tile, in two passes so that
 * each loop iteration is short and independent of the others (the CPU then
 * overlaps many of them): first σ (and LSTM's tanh(g)) in place over the
 * pre-activations in G, then the state update, which reads hPrev/cPrev and
 * writes h (and c) in place. Hidden units go in blocks of 4; a last partial
 * block runs the same vector code and stores only its valid lanes, so it never
 * writes into the neighbouring layer's or row's state.
 */
function emitActivations(f: FunctionBuilder, L: TileLocals, A: ActLocals, shape: KernelShape, layer: number): void {
  const { spec, Hp } = shape;
  const H = spec.hiddenSize;
  const hOff = layer * H * 4;
  const cOff = (spec.numLayers + layer) * H * 4;
  const hb = Hp / 4;
  const sc = A.scratch;
  // o, v0 and v1: byte offset and result locals of the block being emitted.
  let o = 0;
  let [v0, v1] = A.v[0]!;
  const at = (offsets: readonly number[], j: number): void => {
    o = offsets[j]!;
    [v0, v1] = A.v[j]!;
  };
  const gate = (g: number): Emit => () => {
    f.get(A.pg);
    f.load(g * Hp * 4 + o);
  };
  const mapInPlace = (fromBlock: number, toBlock: number, fn: typeof emitSigmoid): void => {
    emitBlockLoop(f, L, A, shape, fromBlock, toBlock, (offsets) => {
      offsets.forEach((_, j) => {
        at(offsets, j);
        fn(f, sc, () => {
          f.get(A.pg);
          f.load(o);
        });
        f.set(v0);
      });
      offsets.forEach((_, j) => {
        at(offsets, j);
        f.get(A.pg);
        f.get(v0);
        f.store(o);
      });
    });
  };

  emitActivationConstants(f, sc);
  // Pass 1. G columns are [i | f | o | g] for LSTM, [r | z | n_x | n_h] for GRU.
  if (spec.cell === 'lstm') {
    mapInPlace(0, 3 * hb, emitSigmoid);
    mapInPlace(3 * hb, 4 * hb, emitTanh);
  } else if (spec.cell === 'gru') {
    mapInPlace(0, 2 * hb, emitSigmoid);
  }

  // Pass 2 leaves h in v0 and (LSTM) c in v1, then stores.
  const update = (): void => {
    switch (spec.cell) {
      case 'lstm':
        gate(1)();
        f.get(A.ps);
        f.load(cOff + o);
        f.f32x4Mul();
        gate(0)();
        gate(3)();
        f.f32x4Mul();
        f.f32x4Add();
        f.set(v1); // c = f·cPrev + i·g
        emitTanh(f, sc, () => {
          f.get(v1);
          emitConstant(f, sc, TANH_INPUT_SCALE);
          f.f32x4Mul();
        });
        gate(2)();
        f.f32x4Mul();
        f.set(v0); // h = o·tanh(c)
        break;
      case 'gru':
        emitTanh(f, sc, () => {
          gate(2)();
          gate(0)();
          gate(3)();
          f.f32x4Mul();
          f.f32x4Add();
        });
        f.set(v1); // n = tanh(W_in x + b_in + r·(W_hn h + b_hn))
        emitConstant(f, sc, 1);
        gate(1)();
        f.f32x4Sub();
        f.get(v1);
        f.f32x4Mul();
        gate(1)();
        f.get(A.ps);
        f.load(hOff + o);
        f.f32x4Mul();
        f.f32x4Add();
        f.set(v0); // h = (1 − z)·n + z·hPrev
        break;
      case 'rnn_tanh':
        emitTanh(f, sc, gate(0));
        f.set(v0);
        break;
      case 'rnn_relu':
        gate(0)();
        emitConstant(f, sc, 0);
        f.f32x4Max();
        f.set(v0);
        break;
    }
  };
  // Every block's h, then every block's c: neighbouring stores must be adjacent for the revectorizer.
  const store = (offsets: readonly number[], lanes: number): void => {
    const outs: [number, number][] = [[0, hOff]];
    if (spec.cell === 'lstm') outs.push([1, cOff]);
    for (const [which, off] of outs) {
      for (let j = 0; j < offsets.length; j++) {
        at(offsets, j);
        const v = which === 0 ? v0 : v1;
        if (lanes === 4) {
          f.get(A.ps);
          f.get(v);
          f.store(off + o);
        } else {
          for (let lane = 0; lane < lanes; lane++) {
            f.get(A.ps);
            f.get(v);
            f.storeLane(off + o + lane * 4, lane);
          }
        }
      }
    }
  };
  const fullBlocks = Math.floor(H / 4);
  const partial = H % 4;
  if (fullBlocks > 0) {
    emitBlockLoop(f, L, A, shape, 0, fullBlocks, (offsets) => {
      offsets.forEach((_, j) => {
        at(offsets, j);
        update();
      });
      store(offsets, 4);
    });
  }
  if (partial > 0) {
    // The partial block of every row: same code, lane stores.
    emitBlockLoop(
      f,
      L,
      A,
      shape,
      fullBlocks,
      fullBlocks + 1,
      (offsets) => {
        at(offsets, 0);
        update();
        store(offsets, partial);
      },
      false,
    );
  }
}

interface Layout {
  readonly bytes: number;
  readonly x: number;
  readonly s: number;
  readonly o: number;
  readonly g: number;
  readonly probe: number;
  readonly layers: readonly PlacedGroup[][];
  readonly head: PlacedGroup;
  readonly gStride: number;
}

function planLayout(weights: RnnWeights, maxBatch: number, rowTile: number): Layout {
  const { inputSize: I, outputSize: O, numLayers } = weights;
  const S = stateSize(weights);
  let at = 0;
  const take = (bytes: number): number => {
    const start = at;
    // 64 bytes of slack after every region: partial blocks load (never store) a little past their row.
    at = align64(at + bytes + 64);
    return start;
  };
  let gStride = 0;
  const layers = Array.from({ length: numLayers }, (_, layer) => {
    const { groups, gWidth } = layerGroups(weights, layer);
    gStride = Math.max(gStride, gWidth * 4);
    let gColumn = 0;
    return groups.map((group) => {
      const placed: PlacedGroup = { group, panel: take(panelFloats(group) * 4), bias: take(group.cols * 4), gColumn };
      gColumn += group.cols * 4;
      return placed;
    });
  });
  const hg = headGroup(weights);
  const head: PlacedGroup = { group: hg, panel: take(panelFloats(hg) * 4), bias: take(hg.cols * 4), gColumn: 0 };
  const x = take(maxBatch * I * 4);
  const s = take(maxBatch * S * 4);
  const o = take(maxBatch * O * 4);
  const g = take(rowTile * gStride);
  const probe = take(64);
  return { bytes: at, x, s, o, g, probe, layers, head, gStride };
}

function buildModule(
  weights: RnnWeights,
  layout: Layout,
  opts: { rowTile: number; colTile: number; unroll: number; relaxed: boolean },
): Uint8Array<ArrayBuffer> {
  const { inputSize: I, outputSize: O, hiddenSize: H } = weights;
  const S = stateSize(weights);
  const TB = opts.rowTile;

  // func r - 1 (r = 1 .. rowTile): tile_r(xp, sp, op) steps r consecutive rows
  // in place. Whole tiles use tile_rowTile; the rest of a batch uses the
  // smaller one of its size, which sums every lane in the very same order.
  const tileFunction = (rows: number): FunctionBuilder => {
    const shape: KernelShape = {
      spec: weights,
      S,
      Hp: roundUp4(H),
      rowTile: rows,
      colTile: opts.colTile,
      unroll: opts.unroll,
      gStride: layout.gStride,
      gAddr: layout.g,
    };
    const tile = new FunctionBuilder(['i32', 'i32', 'i32'], [], opts.relaxed);
    const L: TileLocals = {
      xp: 0,
      sp: 1,
      op: 2,
      p: tile.local('i32'),
      pEnd: tile.local('i32'),
      pw: tile.local('i32'),
      pb: tile.local('i32'),
      pc: tile.local('i32'),
      acc: Array.from({ length: rows }, () => Array.from({ length: opts.colTile }, () => tile.local('v128'))),
      w: tile.local('v128'),
      s: Array.from({ length: rows }, () => tile.local('v128')),
    };
    const A: ActLocals = {
      pg: tile.local('i32'),
      ps: tile.local('i32'),
      rowG: tile.local('i32'),
      rowS: tile.local('i32'),
      v: [
        [tile.local('v128'), tile.local('v128')],
        [tile.local('v128'), tile.local('v128')],
      ],
      scratch: activationScratch(tile),
    };
    layout.layers.forEach((groups, layer) => {
      for (const placed of groups) emitGroupProduct(tile, L, shape, placed, { kind: 'g' });
      emitActivations(tile, L, A, shape, layer);
    });
    emitGroupProduct(tile, L, shape, layout.head, { kind: 'out', outSize: O });
    return tile;
  };
  const tiles = Array.from({ length: TB }, (_, r) => tileFunction(r + 1));

  // func rowTile: step(batch) runs whole tiles, then the rest of the batch.
  const step = new FunctionBuilder(['i32'], [], opts.relaxed);
  const batch = 0;
  const xp = step.local('i32');
  const sp = step.local('i32');
  const op = step.local('i32');
  const xEnd = step.local('i32');
  const rest = step.local('i32');
  step.i32(layout.x);
  step.set(xp);
  step.i32(layout.s);
  step.set(sp);
  step.i32(layout.o);
  step.set(op);
  // xEnd = x + floor(batch / TB) * TB * I * 4
  step.get(batch);
  step.i32(TB);
  step.i32DivU();
  step.i32(TB * I * 4);
  step.i32Mul();
  step.i32(layout.x);
  step.i32Add();
  step.set(xEnd);
  step.block();
  step.loop();
  step.get(xp);
  step.get(xEnd);
  step.i32Eq();
  step.brIf(1);
  step.get(xp);
  step.get(sp);
  step.get(op);
  step.call(TB - 1);
  step.addTo(xp, TB * I * 4);
  step.addTo(sp, TB * S * 4);
  step.addTo(op, TB * O * 4);
  step.br(0);
  step.end();
  step.end();
  step.get(batch);
  step.i32(TB);
  step.i32RemU();
  step.set(rest);
  for (let r = 1; r < TB; r++) {
    step.get(rest);
    step.i32(r);
    step.i32Eq();
    step.if();
    step.get(xp);
    step.get(sp);
    step.get(op);
    step.call(r - 1);
    step.end();
  }

  // func rowTile + 1: probe() computes madd(a, b, c) from memory, to tell fused from unfused.
  const probe = new FunctionBuilder([], [], opts.relaxed);
  probe.i32(layout.probe + 48);
  probe.madd(
    () => {
      probe.i32(layout.probe);
      probe.load(0);
    },
    () => {
      probe.i32(layout.probe);
      probe.load(16);
    },
    () => {
      probe.i32(layout.probe);
      probe.load(32);
    },
  );
  probe.store(0);

  const pages = Math.ceil(layout.bytes / 65536);
  return encodeModule(pages, [...tiles.map((body) => ({ body })), { body: step, exportName: 'step' }, { body: probe, exportName: 'probe' }]);
}

/** Below this many floats a plain loop beats the call overhead of TypedArray.set. */
const SMALL_COPY = 512;

/** Copies src[0, n) into mem at `at`: one memcpy when src is exactly n long, else a loop (no subarray, no allocation). */
function copyIn(src: Float32Array, n: number, mem: Float32Array, at: number): void {
  if (src.length === n && n >= SMALL_COPY) {
    mem.set(src, at);
    return;
  }
  for (let i = 0; i < n; i++) mem[at + i] = src[i]!;
}

/**
 * Builds the fast stepper for one model: validates the weights, packs them,
 * generates and compiles the kernel (synchronously, a few milliseconds) and
 * reserves memory for `maxBatch` streams. step() then allocates nothing.
 * Results agree with {@link createReferenceStepper} to float32 rounding and
 * are bitwise independent of batch size and row position.
 */
export function createStepper(weights: RnnWeights, options: StepperOptions): FastStepper {
  validateWeights(weights);
  const { maxBatch } = options;
  checkMaxBatch(maxBatch);
  // Turned on (if at all) before the first compile; the tile that suits 16 vector registers depends on it.
  const revectorized = wasmRevectorize();
  const rowTile = options.rowTile ?? (revectorized ? 4 : 2);
  const colTile = options.colTile ?? (revectorized ? 4 : 6);
  const unroll = options.unroll ?? 2;
  for (const [name, v, max] of [
    ['rowTile', rowTile, 8],
    ['colTile', colTile, 8],
    ['unroll', unroll, 8],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > max) throw new RangeError(`${name} must be an integer in [1, ${max}], got ${v}`);
  }
  const supported = relaxedSimdSupported();
  if (options.relaxedSimd === true && !supported) {
    throw new Error('relaxedSimd requested but this engine does not validate f32x4.relaxed_madd');
  }
  const relaxed = options.relaxedSimd ?? supported;
  const spec: RnnSpec = {
    cell: weights.cell,
    inputSize: weights.inputSize,
    hiddenSize: weights.hiddenSize,
    numLayers: weights.numLayers,
    outputSize: weights.outputSize,
  };
  const layout = planLayout(weights, maxBatch, rowTile);
  // wasm32 memory tops out at 4 GiB (65,536 pages); engines may allow less.
  if (layout.bytes > 2 ** 31) {
    throw new RangeError(`maxBatch ${maxBatch} needs ${layout.bytes} bytes of kernel memory; the limit is 2 GiB`);
  }
  const bytes = buildModule(weights, layout, { rowTile, colTile, unroll, relaxed });
  const exports = instantiate<{ memory: { buffer: ArrayBuffer }; step: (batch: number) => void; probe: () => void }>(bytes);
  // The memory never grows, so views over it stay valid for the stepper's life.
  const mem = new Float32Array(exports.memory.buffer);
  for (const groups of layout.layers) for (const placed of groups) packGroup(mem, placed, colTile);
  packGroup(mem, layout.head, colTile);

  // (1 + 2^-12)² − (1 + 2^-11) is 2^-24 with one rounding and 0 with two.
  const p = layout.probe / 4;
  mem.fill(1 + 2 ** -12, p, p + 8);
  mem.fill(-(1 + 2 ** -11), p + 8, p + 12);
  exports.probe();
  const fusedMultiplyAdd = mem[p + 12] !== 0;

  const { inputSize: I, outputSize: O } = spec;
  const S = stateSize(spec);
  const xAt = layout.x / 4;
  const sAt = layout.s / 4;
  const oAt = layout.o / 4;
  const buffers: StepperBuffers = {
    x: mem.subarray(xAt, xAt + maxBatch * I),
    state: mem.subarray(sAt, sAt + maxBatch * S),
    out: mem.subarray(oAt, oAt + maxBatch * O),
  };
  const run = exports.step;
  // Exact-length views of the kernel's state and out rows, per batch size, for
  // TypedArray.set (a memcpy, ~5x faster than a JS loop at 256 rows). Each is
  // created the first time its batch size is seen and then reused, so steady
  // state allocates nothing.
  const stateViews: (Float32Array | undefined)[] = new Array<Float32Array | undefined>(maxBatch + 1).fill(undefined);
  const outViews: (Float32Array | undefined)[] = new Array<Float32Array | undefined>(maxBatch + 1).fill(undefined);
  const copyOut = (views: (Float32Array | undefined)[], batch: number, n: number, at: number, dst: Float32Array): void => {
    if (n < SMALL_COPY) {
      for (let i = 0; i < n; i++) dst[i] = mem[at + i]!;
      return;
    }
    let view = views[batch];
    if (view === undefined) {
      view = mem.subarray(at, at + n);
      views[batch] = view;
    }
    dst.set(view);
  };

  return {
    spec,
    maxBatch,
    buffers,
    fusedMultiplyAdd,
    relaxedSimd: relaxed,
    revectorized,
    step(batch: number, x: Float32Array, state: Float32Array, out: Float32Array): void {
      if (!(batch >= 0 && batch <= maxBatch && Number.isInteger(batch))) {
        throw new RangeError(`batch ${batch} is outside [0, ${maxBatch}] (maxBatch of this stepper)`);
      }
      const nx = batch * I;
      const ns = batch * S;
      const no = batch * O;
      if (x.length < nx || state.length < ns || out.length < no) {
        throw new RangeError(
          `buffers too small for batch ${batch}: x ${x.length}/${nx}, state ${state.length}/${ns}, out ${out.length}/${no} floats`,
        );
      }
      if (batch === 0) return;
      if (x !== buffers.x) copyIn(x, nx, mem, xAt);
      if (state !== buffers.state) copyIn(state, ns, mem, sAt);
      run(batch);
      if (state !== buffers.state) copyOut(stateViews, batch, ns, sAt, state);
      if (out !== buffers.out) copyOut(outViews, batch, no, oAt, out);
    },
  };
}
