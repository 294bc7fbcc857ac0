import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import protobuf from 'protobufjs';
import { gateCount } from '@streamcell/rnn';
import type { CellType, LayerWeights, RnnWeights } from '@streamcell/rnn';

/**
 * Builds an ONNX model that computes one streaming step of a forecaster, from
 * our PyTorch-layout weights, so ONNX Runtime can run exactly the work our
 * kernel does.
 *
 * Graph (opset 14, IR 7), sequence length 1, batch a symbolic dimension:
 *   x [1, batch, inputSize], h0_l{k} [1, batch, H] (and c0_l{k} for LSTM)
 *   -> one LSTM / GRU / RNN node per layer (layer k+1 reads layer k's Y_h,
 *      which for one time step already has the [seq=1, batch, H] shape of X)
 *   -> MatMul with the transposed head weight, Add head bias
 *   -> out [1, batch, outputSize], h_l{k} [1, batch, H] (and c_l{k}).
 *
 * Gate order: PyTorch stores LSTM rows as i,f,g,o and GRU rows as r,z,n; ONNX
 * wants LSTM i,o,f,c and GRU z,r,h. GRU uses linear_before_reset=1, which is
 * PyTorch's n = tanh(W_in x + b_in + r * (W_hn h + b_hn)). ONNX's B input is
 * [Wb | Rb] concatenated: the input and hidden biases stay separate, as in
 * PyTorch, which matters for the GRU's reset gate.
 */
export function buildOnnxModel(weights: RnnWeights): Uint8Array {
  if (endianness() !== 'LE') throw new Error('ONNX raw_data is little-endian; this host is big-endian');
  if (!Object.hasOwn(ONNX_OP, weights.cell)) throw new Error(`no ONNX mapping for cell ${String(weights.cell)}`);
  if (weights.layers.length !== weights.numLayers) {
    throw new Error(`weights have ${weights.layers.length} layers, spec says ${weights.numLayers}`);
  }
  const { hiddenSize: hidden, inputSize, outputSize } = weights;
  const initializer: TensorInit[] = [];
  const node: NodeInit[] = [];
  const input: ValueInfoInit[] = [valueInfo(ONNX_NAMES.x, inputSize)];
  const output: ValueInfoInit[] = [valueInfo(ONNX_NAMES.out, outputSize)];
  const lstm = weights.cell === 'lstm';

  let layerInput: string = ONNX_NAMES.x;
  weights.layers.forEach((layer, k) => {
    const inSize = k === 0 ? inputSize : hidden;
    const [w, r, b] = [`W_l${k}`, `R_l${k}`, `B_l${k}`];
    const { weightIh, weightHh, bias } = toOnnxGateOrder(weights.cell, hidden, inSize, layer);
    initializer.push(
      tensor(w, [1, weightIh.length / inSize, inSize], weightIh),
      tensor(r, [1, weightHh.length / hidden, hidden], weightHh),
      tensor(b, [1, bias.length], bias),
    );
    const h0 = ONNX_NAMES.h0(k);
    const h = ONNX_NAMES.h(k);
    input.push(valueInfo(h0, hidden));
    output.push(valueInfo(h, hidden));
    // '' marks an optional input/output left out: sequence_lens and Y.
    const nodeInputs = [layerInput, w, r, b, '', h0];
    const nodeOutputs = ['', h];
    if (lstm) {
      input.push(valueInfo(ONNX_NAMES.c0(k), hidden));
      output.push(valueInfo(ONNX_NAMES.c(k), hidden));
      nodeInputs.push(ONNX_NAMES.c0(k));
      nodeOutputs.push(ONNX_NAMES.c(k));
    }
    node.push({
      name: `${weights.cell}_l${k}`,
      op_type: ONNX_OP[weights.cell],
      input: nodeInputs,
      output: nodeOutputs,
      attribute: cellAttributes(weights.cell, hidden),
    });
    layerInput = h;
  });

  initializer.push(
    tensor('head_weight_t', [hidden, outputSize], transpose(weights.headWeight, outputSize, hidden)),
    tensor('head_bias', [outputSize], weights.headBias),
  );
  node.push(
    { name: 'head_matmul', op_type: 'MatMul', input: [layerInput, 'head_weight_t'], output: ['head_mm'], attribute: [] },
    { name: 'head_add', op_type: 'Add', input: ['head_mm', 'head_bias'], output: [ONNX_NAMES.out], attribute: [] },
  );

  const model = {
    ir_version: 7,
    opset_import: [{ domain: '', version: 14 }],
    producer_name: 'streamcell-bench',
    producer_version: '0.1.0',
    graph: { name: `${weights.cell}_step`, node, initializer, input, output },
  };
  const type = modelProtoType();
  const problem = type.verify(model);
  if (problem !== null) throw new Error(`ONNX model does not fit the schema: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/** Names of the graph's inputs and outputs; layer k's state is per layer. */
export const ONNX_NAMES = {
  x: 'x',
  out: 'out',
  h0: (layer: number): string => `h0_l${layer}`,
  c0: (layer: number): string => `c0_l${layer}`,
  h: (layer: number): string => `h_l${layer}`,
  c: (layer: number): string => `c_l${layer}`,
} as const;

/**
 * PyTorch row blocks in the order ONNX wants them. LSTM: ONNX i,o,f,c is
 * PyTorch blocks i(0),o(3),f(1),g(2). GRU: ONNX z,r,h is PyTorch z(1),r(0),n(2).
 */
const PYTORCH_BLOCK_FOR_ONNX_GATE: Readonly<Record<CellType, readonly number[]>> = {
  lstm: [0, 3, 1, 2],
  gru: [1, 0, 2],
  rnn_tanh: [0],
  rnn_relu: [0],
};

const ONNX_OP: Readonly<Record<CellType, string>> = {
  lstm: 'LSTM',
  gru: 'GRU',
  rnn_tanh: 'RNN',
  rnn_relu: 'RNN',
};

/** Weights of one layer, gates reordered for ONNX; bias is [Wb | Rb]. */
export function toOnnxGateOrder(
  cell: CellType,
  hidden: number,
  layerInput: number,
  layer: LayerWeights,
): { weightIh: Float32Array; weightHh: Float32Array; bias: Float32Array } {
  const rows = gateCount(cell) * hidden;
  const expect = (what: string, actual: number, wanted: number): void => {
    if (actual !== wanted) throw new Error(`${cell} ${what} has ${actual} values, expected ${wanted}`);
  };
  expect('weightIh', layer.weightIh.length, rows * layerInput);
  expect('weightHh', layer.weightHh.length, rows * hidden);
  expect('biasIh', layer.biasIh.length, rows);
  expect('biasHh', layer.biasHh.length, rows);
  const order = PYTORCH_BLOCK_FOR_ONNX_GATE[cell];
  const bias = new Float32Array(2 * rows);
  bias.set(reorderBlocks(layer.biasIh, order, hidden), 0);
  bias.set(reorderBlocks(layer.biasHh, order, hidden), rows);
  return {
    weightIh: reorderBlocks(layer.weightIh, order, hidden * layerInput),
    weightHh: reorderBlocks(layer.weightHh, order, hidden * hidden),
    bias,
  };
}

/** Output block j is input block order[j]; blocks are `blockSize` values each. */
function reorderBlocks(src: Float32Array, order: readonly number[], blockSize: number): Float32Array {
  const dst = new Float32Array(src.length);
  order.forEach((from, to) => {
    dst.set(src.subarray(from * blockSize, (from + 1) * blockSize), to * blockSize);
  });
  return dst;
}

function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c]!;
  return t;
}

const ATTRIBUTE_INT = 2;
const ATTRIBUTE_STRINGS = 8;
const TENSOR_FLOAT = 1;

interface AttributeInit {
  name: string;
  type: number;
  i?: number;
  strings?: Uint8Array[];
}

interface NodeInit {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: AttributeInit[];
}

interface TensorInit {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

interface ValueInfoInit {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: ({ dim_value: number } | { dim_param: string })[] } } };
}

function cellAttributes(cell: CellType, hidden: number): AttributeInit[] {
  const attributes: AttributeInit[] = [{ name: 'hidden_size', type: ATTRIBUTE_INT, i: hidden }];
  switch (cell) {
    case 'lstm':
      break;
    case 'gru':
      attributes.push({ name: 'linear_before_reset', type: ATTRIBUTE_INT, i: 1 });
      break;
    case 'rnn_tanh':
    case 'rnn_relu': {
      const activation = cell === 'rnn_tanh' ? 'Tanh' : 'Relu';
      attributes.push({ name: 'activations', type: ATTRIBUTE_STRINGS, strings: [new TextEncoder().encode(activation)] });
      break;
    }
  }
  return attributes;
}

function tensor(name: string, dims: number[], values: Float32Array): TensorInit {
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== values.length) throw new Error(`tensor ${name}: dims ${dims.join('x')} need ${size} values, got ${values.length}`);
  // Copy: the bytes must not alias a caller's array that may change later.
  const raw = new Uint8Array(values.byteLength);
  raw.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return { name, dims, data_type: TENSOR_FLOAT, raw_data: raw };
}

/** A float tensor [1, batch, width] with a symbolic batch dimension. */
function valueInfo(name: string, width: number): ValueInfoInit {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: TENSOR_FLOAT,
        shape: { dim: [{ dim_value: 1 }, { dim_param: 'batch' }, { dim_value: width }] },
      },
    },
  };
}

let cachedModelProto: protobuf.Type | undefined;

function modelProtoType(): protobuf.Type {
  if (cachedModelProto === undefined) {
    const source = readFileSync(new URL('./onnx.proto', import.meta.url), 'utf8');
    // keepCase: the object fields above use ONNX's own snake_case names.
    cachedModelProto = protobuf.parse(source, { keepCase: true }).root.lookupType('onnx.ModelProto');
  }
  return cachedModelProto;
}
