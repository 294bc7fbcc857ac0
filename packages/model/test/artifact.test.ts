import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isStreamcellError } from '@streamcell/protocol';
import type { ErrorCode } from '@streamcell/protocol';
import { encodeSafetensors, loadModel, saveModel, tensorsFromWeights } from '../src/index.ts';
import type { TensorToWrite } from '../src/index.ts';
import { GOLDEN_DIR, manifestFor, randomWeights, tempDir } from './helpers.ts';

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectLoadError(code: ErrorCode, ...fragments: string[]): Promise<void> {
  let caught: unknown;
  try {
    await loadModel(dir);
  } catch (err) {
    caught = err;
  }
  expect(isStreamcellError(caught, code), `expected ${code}, got ${String(caught)}`).toBe(true);
  for (const fragment of fragments) expect((caught as Error).message).toContain(fragment);
}

const manifest = manifestFor();
const spec = { cell: 'lstm', inputSize: 3, hiddenSize: 4, numLayers: 2, outputSize: 4 } as const;

/** Writes model.json plus a weights file built from (possibly tampered) tensors. */
async function writeArtifact(tensors: Map<string, TensorToWrite>, manifestOverrides: Record<string, unknown> = {}) {
  await writeFile(join(dir, 'model.json'), JSON.stringify({ ...manifest, ...manifestOverrides }));
  await writeFile(join(dir, 'weights.safetensors'), encodeSafetensors(tensors));
}

const goodTensors = () => tensorsFromWeights(randomWeights(spec, 3));

describe('loadModel', () => {
  it('loads every golden model with weights in the shapes its manifest implies', async () => {
    const names = (await readdir(GOLDEN_DIR, { withFileTypes: true })).filter((d) => d.isDirectory());
    expect(names.length).toBeGreaterThan(0);
    for (const { name } of names) {
      const model = await loadModel(join(GOLDEN_DIR, name));
      const { weights, manifest: m } = model;
      expect(weights.cell).toBe(m.cell);
      expect(weights.layers).toHaveLength(m.numLayers);
      expect(weights.headWeight).toHaveLength(m.outputSize * m.hiddenSize);
      expect(model.dir).toBe(join(GOLDEN_DIR, name));
    }
  });

  it('reports a missing directory, manifest or weights file as model_io with the path', async () => {
    await rm(dir, { recursive: true });
    await expectLoadError('model_io', join(dir, 'model.json'), 'no such file');
    await mkdir(dir);
    await writeFile(join(dir, 'model.json'), JSON.stringify(manifest));
    await expectLoadError('model_io', join(dir, 'weights.safetensors'), 'no such file');
    await mkdir(join(dir, 'weights.safetensors'));
    await expectLoadError('model_io', 'is a directory');
  });

  it('reports a manifest that is not JSON or not UTF-8', async () => {
    await writeFile(join(dir, 'model.json'), '{"format":');
    await expectLoadError('model_manifest_invalid', join(dir, 'model.json'), 'invalid JSON');
    await writeFile(join(dir, 'model.json'), Buffer.from([0x7b, 0xff, 0x7d]));
    await expectLoadError('model_manifest_invalid', 'UTF-8');
  });

  it('reads the weights file the manifest names', async () => {
    await writeFile(join(dir, 'model.json'), JSON.stringify({ ...manifest, weights: 'v3.safetensors' }));
    await writeFile(join(dir, 'v3.safetensors'), encodeSafetensors(goodTensors()));
    expect((await loadModel(dir)).manifest.weights).toBe('v3.safetensors');
  });

  it('lists missing and unexpected tensors, with hints for bidirectional and extra layers', async () => {
    const tensors = goodTensors();
    tensors.delete('rnn.bias_hh_l1');
    tensors.delete('head.bias');
    tensors.set('rnn.weight_ih_l0_reverse', { shape: [1], data: Float32Array.of(0) });
    tensors.set('rnn.weight_ih_l2', { shape: [1], data: Float32Array.of(0) });
    await writeArtifact(tensors);
    await expectLoadError(
      'model_weights_invalid',
      join(dir, 'weights.safetensors'),
      '"rnn.bias_hh_l1"',
      '"head.bias"',
      '"rnn.weight_ih_l0_reverse" (bidirectional',
      '"rnn.weight_ih_l2" (more layers',
    );
  });

  it('reports a tensor whose shape disagrees with the manifest', async () => {
    await writeArtifact(goodTensors(), { hiddenSize: 5 });
    await expectLoadError('model_weights_invalid', '"rnn.weight_ih_l0"', '[16,3]', '[20,3]');
    const tensors = goodTensors();
    const w = tensors.get('head.weight')!;
    tensors.set('head.weight', { shape: [2, 8], data: w.data as Float32Array }); // same size, wrong shape
    await writeArtifact(tensors);
    await expectLoadError('model_weights_invalid', '"head.weight"', '[2,8]', '[4,4]');
  });

  it('refuses NaN and infinite weights, naming the tensor and index', async () => {
    const tensors = goodTensors();
    (tensors.get('rnn.weight_hh_l1')!.data as Float32Array)[4 * 2 + 1] = NaN;
    await writeArtifact(tensors);
    await expectLoadError('model_weights_invalid', '"rnn.weight_hh_l1"', 'NaN at [2, 1]');
    const f64 = goodTensors();
    f64.set('head.bias', { dtype: 'F64', shape: [4], data: Float64Array.of(0, 0, -1e300, 0) });
    await writeArtifact(f64);
    await expectLoadError('model_weights_invalid', '"head.bias"', '-Infinity at [2]', 'conversion from F64');
  });

  it('accepts F16, BF16 and F64 weights, converted to float32', async () => {
    const tensors = goodTensors();
    tensors.set('head.bias', { dtype: 'F16', shape: [4], data: Uint16Array.of(0x3c00, 0xc000, 0x3800, 0) });
    tensors.set('rnn.bias_ih_l0', { dtype: 'BF16', shape: [16], data: new Uint16Array(16).fill(0x3f80) });
    tensors.set('rnn.bias_hh_l0', { dtype: 'F64', shape: [16], data: new Float64Array(16).fill(0.1) });
    await writeArtifact(tensors);
    const { weights } = await loadModel(dir);
    expect(Array.from(weights.headBias)).toEqual([1, -2, 0.5, 0]);
    expect(weights.layers[0]!.biasIh.every((v) => v === 1)).toBe(true);
    expect(weights.layers[0]!.biasHh.every((v) => v === Math.fround(0.1))).toBe(true);
  });

  it('reports a corrupt weights file with the path', async () => {
    await writeFile(join(dir, 'model.json'), JSON.stringify(manifest));
    await writeFile(join(dir, 'weights.safetensors'), encodeSafetensors(goodTensors()).subarray(0, 100));
    await expectLoadError('model_weights_invalid', join(dir, 'weights.safetensors'), 'truncated');
  });
});

describe('saveModel', () => {
  it('round-trips manifest and weights bit for bit', async () => {
    const weights = randomWeights({ ...spec, cell: 'gru' }, 9);
    weights.layers[1]!.weightHh[3] = -0;
    weights.headBias[0] = 1e-45; // a subnormal survives
    const input = manifestFor({ cell: 'gru', targetMode: 'delta', metadata: { trainedOn: 'uci-air', epochs: 3 } });
    const written = await saveModel(join(dir, 'nested', 'model'), input, weights, { weightsMetadata: { run: 'r1' } });
    const loaded = await loadModel(join(dir, 'nested', 'model'));
    expect(loaded.manifest).toEqual(written);
    expect(loaded.manifest.targetMode).toBe('delta');
    expect(loaded.manifest.metadata).toEqual({ trainedOn: 'uci-air', epochs: 3 });
    const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
    weights.layers.forEach((layer, k) => {
      const got = loaded.weights.layers[k]!;
      expect(bits(got.weightIh)).toEqual(bits(layer.weightIh));
      expect(bits(got.weightHh)).toEqual(bits(layer.weightHh));
      expect(bits(got.biasIh)).toEqual(bits(layer.biasIh));
      expect(bits(got.biasHh)).toEqual(bits(layer.biasHh));
    });
    expect(bits(loaded.weights.headWeight)).toEqual(bits(weights.headWeight));
    expect(bits(loaded.weights.headBias)).toEqual(bits(weights.headBias));
    // No temporary files left behind.
    expect((await readdir(join(dir, 'nested', 'model'))).sort()).toEqual(['model.json', 'weights.safetensors']);
    expect(JSON.parse(await readFile(join(dir, 'nested', 'model', 'model.json'), 'utf8'))).toMatchObject({
      format: 'streamcell/v1',
      scaler: { mean: [20, 40, 300], std: [2, 5, 100] },
      weights: 'weights.safetensors',
    });
  });

  it('writes nothing when the manifest is invalid or disagrees with the weights', async () => {
    const target = join(dir, 'out');
    await expect(saveModel(target, manifestFor({ outputSize: 5 }), randomWeights(spec))).rejects.toSatisfy((e) =>
      isStreamcellError(e, 'model_manifest_invalid'),
    );
    await expect(saveModel(target, manifestFor({ hiddenSize: 8 }), randomWeights(spec))).rejects.toThrow(/hiddenSize 4/);
    const nan = randomWeights(spec);
    nan.headWeight[0] = NaN;
    await expect(saveModel(target, manifestFor(), nan)).rejects.toThrow(/"head.weight" holds NaN/);
    const short = { ...randomWeights(spec), headBias: new Float32Array(3) };
    await expect(saveModel(target, manifestFor(), short)).rejects.toThrow(/head.bias/);
    await expect(readdir(target)).rejects.toThrow(/ENOENT/);
  });
});
