import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StreamcellError, isStreamcellError } from '@streamcell/protocol';
import type { RnnSpec, RnnWeights } from '@streamcell/rnn';
import { MANIFEST_FILE, parseManifest, parseManifestText } from './manifest.ts';
import type { Manifest, ManifestInput } from './manifest.ts';
import { decodeSafetensors, encodeSafetensors } from './safetensors.ts';
import { tensorsFromWeights, weightsFromTensors } from './weights.ts';

/** A model artifact in memory. */
export interface LoadedModel {
  readonly manifest: Manifest;
  readonly weights: RnnWeights;
  /** The directory it was loaded from, as given. */
  readonly dir: string;
}

/** A manifest larger than this is not a hand-written JSON file; refuse before reading it. */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

function ioError(file: string, action: string, err: unknown): StreamcellError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
  return new StreamcellError('model_io', `${file}: cannot ${action} (${reason})`, { cause: err });
}

async function readBytes(file: string, limit?: number): Promise<Buffer> {
  try {
    if (limit !== undefined) {
      const info = await stat(file);
      if (info.isFile() && info.size > limit) {
        throw new StreamcellError('model_manifest_invalid', `${file}: ${info.size} bytes is too large for a manifest`);
      }
    }
    return await readFile(file);
  } catch (err) {
    if (isStreamcellError(err)) throw err;
    throw ioError(file, 'read', err);
  }
}

/** The kernel-facing part of a manifest. */
export function specOf(manifest: Manifest): RnnSpec {
  const { cell, inputSize, hiddenSize, numLayers, outputSize } = manifest;
  return { cell, inputSize, hiddenSize, numLayers, outputSize };
}

/**
 * Loads a `streamcell/v1` model directory (`model.json` plus its weights file).
 * Everything is validated before this resolves, so a model that loads can be
 * served: faults reject with a StreamcellError (`model_io`,
 * `model_manifest_invalid` or `model_weights_invalid`) naming the file and field.
 */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const manifestFile = join(dir, MANIFEST_FILE);
  const manifestBytes = await readBytes(manifestFile, MAX_MANIFEST_BYTES);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(manifestBytes);
  } catch (err) {
    throw new StreamcellError('model_manifest_invalid', `${manifestFile}: not valid UTF-8`, { cause: err });
  }
  const manifest = parseManifestText(text, manifestFile);

  const weightsFile = join(dir, manifest.weights);
  const bytes = await readBytes(weightsFile);
  const { tensors } = decodeSafetensors(bytes, weightsFile);
  const weights = weightsFromTensors(tensors, specOf(manifest), weightsFile);
  return { manifest, weights, dir };
}

/** Writes via a temporary name so a reader never sees half a file, even if we crash. */
async function writeAtomically(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw ioError(file, 'write', err);
  }
}

/** Options of {@link saveModel}. */
export interface SaveModelOptions {
  /** Stored in the safetensors `__metadata__` (string values only, per the format). */
  readonly weightsMetadata?: Readonly<Record<string, string>>;
}

/**
 * Writes a model directory (created if needed) that {@link loadModel} reads
 * back bit for bit. The manifest is validated and normalised (defaults written
 * out) and the weights are checked against it before anything touches the
 * disk, so this never produces an artifact that fails to load. The weights
 * file is written before `model.json`, so a crash in between leaves the old
 * manifest pointing at a complete file rather than a new manifest pointing at
 * nothing.
 */
export async function saveModel(
  dir: string,
  manifestInput: ManifestInput,
  weights: RnnWeights,
  options: SaveModelOptions = {},
): Promise<Manifest> {
  const manifest = parseManifest({ ...manifestInput, format: manifestInput.format ?? 'streamcell/v1' }, 'manifest');
  const spec = specOf(manifest);
  for (const key of ['cell', 'inputSize', 'hiddenSize', 'numLayers', 'outputSize'] as const) {
    if (weights[key] !== spec[key]) {
      throw new StreamcellError(
        'model_weights_invalid',
        `cannot save model: weights have ${key} ${weights[key]} but the manifest says ${spec[key]}`,
      );
    }
  }
  const bytes = encodeSafetensors(tensorsFromWeights(weights), options.weightsMetadata);
  // Round-trip through our own reader: shapes, finiteness and the kernel's own
  // checks run exactly as they will at load time.
  weightsFromTensors(decodeSafetensors(bytes, manifest.weights).tensors, spec, manifest.weights);

  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw ioError(dir, 'create directory', err);
  }
  await writeAtomically(join(dir, manifest.weights), bytes);
  await writeAtomically(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
