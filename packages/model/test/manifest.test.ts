import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isStreamcellError } from '@streamcell/protocol';
import { parseManifest, parseManifestText } from '../src/index.ts';
import { GOLDEN_DIR, manifestFor } from './helpers.ts';

/** Asserts a manifest error that names the file and every given fragment (field names, values). */
function expectInvalid(run: () => unknown, ...fragments: string[]): void {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(isStreamcellError(caught, 'model_manifest_invalid'), `expected model_manifest_invalid, got ${String(caught)}`).toBe(true);
  const message = (caught as Error).message;
  expect(message).toContain('dir/model.json');
  for (const fragment of fragments) expect(message).toContain(fragment);
}

const parse = (json: unknown) => parseManifest(json, 'dir/model.json');

describe('parseManifest', () => {
  it('accepts every golden model.json', () => {
    const dirs = readdirSync(GOLDEN_DIR, { withFileTypes: true }).filter((d) => d.isDirectory());
    expect(dirs.length).toBeGreaterThan(0);
    for (const dir of dirs) {
      const file = join(GOLDEN_DIR, dir.name, 'model.json');
      const manifest = parseManifestText(readFileSync(file, 'utf8'), file);
      expect(manifest.outputSize).toBe(manifest.horizon * manifest.targets.length);
    }
  });

  it('fills in defaults: identity scaler, level targets, weights.safetensors', () => {
    const { scaler: _scaler, ...rest } = manifestFor();
    const manifest = parse(rest);
    expect(manifest.scaler).toBeNull();
    expect(manifest.targetMode).toBe('level');
    expect(manifest.weights).toBe('weights.safetensors');
    expect(parse(manifestFor({ scaler: null })).scaler).toBeNull();
  });

  it('keeps the scaler, delta mode, weights name and metadata when given', () => {
    const manifest = parse(manifestFor({ targetMode: 'delta', weights: 'w.safetensors', metadata: { run: 7 } }));
    expect(manifest.scaler).toEqual({ mean: [20, 40, 300], std: [2, 5, 100] });
    expect(manifest.targetMode).toBe('delta');
    expect(manifest.weights).toBe('w.safetensors');
    expect(manifest.metadata).toEqual({ run: 7 });
  });

  it('rejects an unknown or missing format before anything else', () => {
    expectInvalid(() => parse(manifestFor({ format: 'streamcell/v2', cell: 'nope' })), '"format"', 'streamcell/v2');
    const { format: _format, ...rest } = manifestFor();
    expectInvalid(() => parse(rest), '"format"', 'missing');
  });

  it('rejects an unknown cell, listing the supported ones', () => {
    expectInvalid(() => parse(manifestFor({ cell: 'transformer' })), '"cell"', 'transformer', 'lstm, gru, rnn_tanh, rnn_relu');
  });

  it('rejects inputSize that disagrees with the features', () => {
    expectInvalid(() => parse(manifestFor({ inputSize: 4 })), '"inputSize"', '4', '3 names');
  });

  it('rejects outputSize other than horizon x targets', () => {
    expectInvalid(() => parse(manifestFor({ outputSize: 3 })), '"outputSize"', '2 x 2 = 4');
  });

  it('rejects targets that are not features', () => {
    expectInvalid(() => parse(manifestFor({ targets: ['temp', 'pressure'] })), '"targets"', '"pressure"');
  });

  it('rejects repeated feature or target names', () => {
    expectInvalid(() => parse(manifestFor({ features: ['temp', 'temp', 'light'] })), '"features"', '"temp" twice');
    expectInvalid(
      () => parse(manifestFor({ targets: ['temp', 'temp'] })),
      '"targets"',
      '"temp" twice',
    );
  });

  it('rejects scaler lengths that disagree with the features', () => {
    expectInvalid(() => parse(manifestFor({ scaler: { mean: [1, 2], std: [1, 1, 1] } })), '"scaler.mean"', '2 values');
    expectInvalid(() => parse(manifestFor({ scaler: { mean: [1, 2, 3], std: [1, 1, 1, 1] } })), '"scaler.std"', '4 values');
  });

  it('rejects a standard deviation that is zero, negative or not finite', () => {
    expectInvalid(() => parse(manifestFor({ scaler: { mean: [0, 0, 0], std: [1, 0, 1] } })), '"scaler.std[1]"', '> 0');
    expectInvalid(() => parse(manifestFor({ scaler: { mean: [0, 0, 0], std: [1, 1, -2] } })), '"scaler.std[2]"', '-2');
    expectInvalid(
      () => parseManifestText(JSON.stringify(manifestFor()).replace('[2,5,100]', '[2,5,1e999]'), 'dir/model.json'),
      '"scaler.std[2]"',
      'finite',
    );
    expectInvalid(() => parse(manifestFor({ scaler: { mean: [0, NaN, 0], std: [1, 1, 1] } })), '"scaler.mean[1]"', 'finite');
  });

  it('rejects a numeric version with a hint', () => {
    expectInvalid(() => parse(manifestFor({ version: 3 })), '"version"', 'must be a string, e.g. "3"', '(got 3)');
  });

  it('rejects misspelt keys instead of silently using a default', () => {
    expectInvalid(() => parse(manifestFor({ targetmode: 'delta' })), 'unknown key', '"targetmode"');
  });

  it('rejects an unknown targetMode', () => {
    expectInvalid(() => parse(manifestFor({ targetMode: 'ratio' })), '"targetMode"', 'level, delta');
  });

  it('rejects sizes that are not positive integers', () => {
    expectInvalid(() => parse(manifestFor({ hiddenSize: 0 })), '"hiddenSize"');
    expectInvalid(() => parse(manifestFor({ numLayers: 1.5 })), '"numLayers"');
    expectInvalid(() => parse(manifestFor({ horizon: '2' })), '"horizon"');
    expectInvalid(() => parse(manifestFor({ hiddenSize: 2 ** 40 })), '"hiddenSize"');
  });

  it('refuses weights paths that leave the model directory', () => {
    expectInvalid(() => parse(manifestFor({ weights: '../other/weights.safetensors' })), '"weights"', 'plain file name');
    expectInvalid(() => parse(manifestFor({ weights: '/etc/passwd' })), '"weights"');
    expectInvalid(() => parse(manifestFor({ weights: '..' })), '"weights"');
  });

  it('rejects text that is not JSON, or JSON that is not an object', () => {
    expectInvalid(() => parseManifestText('{"format": "streamcell/v1",', 'dir/model.json'), 'invalid JSON');
    expectInvalid(() => parseManifestText('[1, 2]', 'dir/model.json'), 'JSON object');
    expectInvalid(() => parseManifestText('null', 'dir/model.json'), 'JSON object');
  });

  it('says which required field is missing', () => {
    const { hiddenSize: _h, ...rest } = manifestFor();
    expectInvalid(() => parse(rest), 'field "hiddenSize" is missing');
  });

  it('reports every schema problem at once, by field path', () => {
    expectInvalid(() => parse(manifestFor({ name: '', features: ['temp', 7, 'light'] })), '"name"', '"features[1]"');
  });
});
