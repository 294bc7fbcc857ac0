import { StreamcellError, isStreamcellError } from '@streamcell/protocol';
import { gateCount, validateWeights } from '@streamcell/rnn';
import type { LayerWeights, RnnSpec, RnnWeights } from '@streamcell/rnn';
import type { Tensor, TensorToWrite } from './safetensors.ts';

/**
 * Tensor names and shapes a forecaster of this shape must have, in the order
 * PyTorch's `state_dict()` lists them (module attributes `rnn` then `head`).
 */
export function expectedTensorShapes(spec: RnnSpec): Map<string, number[]> {
  const rows = gateCount(spec.cell) * spec.hiddenSize;
  const shapes = new Map<string, number[]>();
  for (let k = 0; k < spec.numLayers; k++) {
    shapes.set(`rnn.weight_ih_l${k}`, [rows, k === 0 ? spec.inputSize : spec.hiddenSize]);
    shapes.set(`rnn.weight_hh_l${k}`, [rows, spec.hiddenSize]);
    shapes.set(`rnn.bias_ih_l${k}`, [rows]);
    shapes.set(`rnn.bias_hh_l${k}`, [rows]);
  }
  shapes.set('head.weight', [spec.outputSize, spec.hiddenSize]);
  shapes.set('head.bias', [spec.outputSize]);
  return shapes;
}

/** Why PyTorch would have written a tensor we do not expect; turns a bare name into a fix. */
function explainExtra(name: string): string {
  if (name.endsWith('_reverse')) return ' (bidirectional RNNs are not supported: a stream cannot see its future)';
  if (/^rnn\.weight_hr_l\d+$/.test(name)) return ' (LSTM proj_size is not supported)';
  if (/^rnn\.\w+_l\d+$/.test(name)) return ' (more layers than "numLayers" in model.json?)';
  return '';
}

function formatIndex(flat: number, shape: readonly number[]): string {
  const index: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    const size = shape[d]!;
    index.unshift(flat % size);
    flat = Math.floor(flat / size);
  }
  return `[${index.join(', ')}]`;
}

/**
 * Checks loaded tensors against the manifest's shape and assembles
 * {@link RnnWeights}. `file` labels messages. Missing and unexpected tensors are
 * all listed at once, then shapes, then values: NaN or ±Infinity anywhere
 * would poison every stream's state silently, so they are refused here.
 */
export function weightsFromTensors(tensors: ReadonlyMap<string, Tensor>, spec: RnnSpec, file: string): RnnWeights {
  const expected = expectedTensorShapes(spec);
  const missing = [...expected.keys()].filter((name) => !tensors.has(name));
  const extra = [...tensors.keys()].filter((name) => !expected.has(name));
  if (missing.length > 0 || extra.length > 0) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`missing tensor(s) ${missing.map((n) => `"${n}"`).join(', ')}`);
    if (extra.length > 0) parts.push(`unexpected tensor(s) ${extra.map((n) => `"${n}"${explainExtra(n)}`).join(', ')}`);
    throw new StreamcellError(
      'model_weights_invalid',
      `${file}: ${parts.join('; ')} for a ${spec.numLayers}-layer ${spec.cell} model`,
    );
  }
  const get = (name: string): Float32Array => {
    const tensor = tensors.get(name)!;
    const shape = expected.get(name)!;
    if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
      throw new StreamcellError(
        'model_weights_invalid',
        `${file}: tensor "${name}" has shape ${JSON.stringify(tensor.shape)}, model.json implies ${JSON.stringify(shape)}`,
      );
    }
    const data = tensor.data;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) {
        const what = Number.isNaN(data[i]!) ? 'NaN' : data[i]! > 0 ? 'Infinity' : '-Infinity';
        const note = tensor.dtype === 'F32' ? '' : ` (after conversion from ${tensor.dtype} to float32)`;
        throw new StreamcellError(
          'model_weights_invalid',
          `${file}: tensor "${name}" holds ${what} at ${formatIndex(i, tensor.shape)}${note}`,
        );
      }
    }
    return data;
  };
  const layers: LayerWeights[] = [];
  for (let k = 0; k < spec.numLayers; k++) {
    layers.push({
      weightIh: get(`rnn.weight_ih_l${k}`),
      weightHh: get(`rnn.weight_hh_l${k}`),
      biasIh: get(`rnn.bias_ih_l${k}`),
      biasHh: get(`rnn.bias_hh_l${k}`),
    });
  }
  const weights: RnnWeights = {
    cell: spec.cell,
    inputSize: spec.inputSize,
    hiddenSize: spec.hiddenSize,
    numLayers: spec.numLayers,
    outputSize: spec.outputSize,
    layers,
    headWeight: get('head.weight'),
    headBias: get('head.bias'),
  };
  checkWithKernel(weights, file);
  return weights;
}

/**
 * The kernel package owns the definitive check of what it can run; ask it too,
 * so a rule it adds later is enforced at load time, and normalise its error.
 */
function checkWithKernel(weights: RnnWeights, file: string): void {
  try {
    validateWeights(weights);
  } catch (err) {
    if (isStreamcellError(err)) {
      throw new StreamcellError(err.code, `${file}: ${err.message}`, { cause: err });
    }
    throw new StreamcellError('model_weights_invalid', `${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** The tensors `saveModel` writes for `weights`, named and shaped as PyTorch's `state_dict()`. */
export function tensorsFromWeights(weights: RnnWeights): Map<string, TensorToWrite> {
  const shapes = expectedTensorShapes(weights);
  const tensors = new Map<string, TensorToWrite>();
  const put = (name: string, data: Float32Array | undefined): void => {
    if (data === undefined) {
      throw new StreamcellError('model_weights_invalid', `cannot save weights: tensor "${name}" is missing`);
    }
    tensors.set(name, { shape: shapes.get(name)!, data });
  };
  for (let k = 0; k < weights.numLayers; k++) {
    const layer = weights.layers[k];
    put(`rnn.weight_ih_l${k}`, layer?.weightIh);
    put(`rnn.weight_hh_l${k}`, layer?.weightHh);
    put(`rnn.bias_ih_l${k}`, layer?.biasIh);
    put(`rnn.bias_hh_l${k}`, layer?.biasHh);
  }
  put('head.weight', weights.headWeight);
  put('head.bias', weights.headBias);
  return tensors;
}
