import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createReferenceStepper, createStepper, isCellType, stateSize } from '../src/index.ts';
import type { RnnWeights, Stepper } from '../src/index.ts';

/**
 * Parity with PyTorch 1.13 on the reference vectors in ../shared/golden
 * (relative to the repository root): every step's forecast, h and c within
 * 1e-5, for both steppers, stepping one event at a time and carrying the
 * state as the service does. A missing folder fails the suite on purpose.
 */

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const GOLDEN = resolve(REPO_ROOT, '../shared/golden');
const TOLERANCE = 1e-5;

/** Reads a safetensors file: u64 LE header length, JSON header, raw little-endian data. Only F32 is needed. */
function readSafetensors(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  const file = readFileSync(path);
  const headerLength = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLength;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (t.dtype !== 'F32') throw new Error(`${name}: dtype ${t.dtype}, only F32 is supported`);
    const [start, end] = t.data_offsets;
    const data = new Float32Array((end - start) / 4);
    // Copy through a DataView: the data need not be 4-byte aligned in the file buffer.
    const view = new DataView(file.buffer, file.byteOffset + base + start, end - start);
    for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(i * 4, true);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`${name}: shape ${JSON.stringify(t.shape)} but ${data.length} floats`);
    tensors.set(name, { shape: t.shape, data });
  }
  return tensors;
}

interface Manifest {
  cell: string;
  inputSize: number;
  hiddenSize: number;
  numLayers: number;
  outputSize: number;
  scaler: unknown;
}

interface ExpectedStep {
  step: number;
  forecast: number[];
  h: number[][];
  c?: number[][];
}

function loadCase(dir: string): { manifest: Manifest; weights: RnnWeights; inputs: number[][]; expected: ExpectedStep[] } {
  const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Manifest;
  if (!isCellType(manifest.cell)) throw new Error(`${dir}: unknown cell ${manifest.cell}`);
  const tensors = readSafetensors(join(dir, 'weights.safetensors'));
  const tensor = (name: string): Float32Array => {
    const t = tensors.get(name);
    if (t === undefined) throw new Error(`${dir}: tensor ${name} missing`);
    return t.data;
  };
  const weights: RnnWeights = {
    cell: manifest.cell,
    inputSize: manifest.inputSize,
    hiddenSize: manifest.hiddenSize,
    numLayers: manifest.numLayers,
    outputSize: manifest.outputSize,
    layers: Array.from({ length: manifest.numLayers }, (_, k) => ({
      weightIh: tensor(`rnn.weight_ih_l${k}`),
      weightHh: tensor(`rnn.weight_hh_l${k}`),
      biasIh: tensor(`rnn.bias_ih_l${k}`),
      biasHh: tensor(`rnn.bias_hh_l${k}`),
    })),
    headWeight: tensor('head.weight'),
    headBias: tensor('head.bias'),
  };
  const lines = (name: string): string[] =>
    readFileSync(join(dir, name), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
  const inputs = lines('input.jsonl').map((l) => (JSON.parse(l) as { values: number[] }).values);
  const expected = lines('expected.jsonl').map((l) => JSON.parse(l) as ExpectedStep);
  return { manifest, weights, inputs, expected };
}

function listCases(): string[] {
  if (!existsSync(GOLDEN)) return [];
  return readdirSync(GOLDEN)
    .filter((name) => statSync(join(GOLDEN, name)).isDirectory())
    .sort();
}

const CASES = listCases();

describe('PyTorch parity on the golden vectors', () => {
  it(`finds the golden vectors at ${GOLDEN}`, () => {
    expect(existsSync(GOLDEN), `${GOLDEN} is missing`).toBe(true);
    expect(CASES.length).toBeGreaterThan(0);
    // The cells the service supports should all be covered.
    const cells = new Set(CASES.map((c) => (JSON.parse(readFileSync(join(GOLDEN, c, 'model.json'), 'utf8')) as Manifest).cell));
    expect([...cells].sort()).toEqual(['gru', 'lstm', 'rnn_relu', 'rnn_tanh']);
  });

  for (const name of CASES) {
    describe(name, () => {
      const { manifest, weights, inputs, expected } = loadCase(join(GOLDEN, name));
      const steppers: [string, Stepper][] = [
        ['reference', createReferenceStepper(weights, 1)],
        ['fast', createStepper(weights, { maxBatch: 1 })],
      ];
      for (const [kind, stepper] of steppers) {
        it(`${kind} stepper matches forecast, h and c at every step`, () => {
          const { hiddenSize: H, numLayers: L, outputSize: O } = weights;
          // These vectors carry no scaler, so events go into the cell raw.
          expect(manifest.scaler).toBeNull();
          expect(inputs.length).toBe(expected.length);
          const state = new Float32Array(stateSize(weights));
          const out = new Float32Array(O);
          inputs.forEach((values, t) => {
            const want = expected[t]!;
            expect(want.step).toBe(t);
            stepper.step(1, Float32Array.from(values), state, out);
            const where = `${name} ${kind} step ${t}`;
            expect(want.forecast.length, where).toBe(O);
            for (let o = 0; o < O; o++) expect(Math.abs(out[o]! - want.forecast[o]!), `${where} forecast[${o}]`).toBeLessThanOrEqual(TOLERANCE);
            expect(want.h.length, where).toBe(L);
            for (let l = 0; l < L; l++) {
              for (let j = 0; j < H; j++) {
                expect(Math.abs(state[l * H + j]! - want.h[l]![j]!), `${where} h[${l}][${j}]`).toBeLessThanOrEqual(TOLERANCE);
              }
            }
            if (weights.cell === 'lstm') {
              expect(want.c?.length, where).toBe(L);
              for (let l = 0; l < L; l++) {
                for (let j = 0; j < H; j++) {
                  expect(Math.abs(state[(L + l) * H + j]! - want.c![l]![j]!), `${where} c[${l}][${j}]`).toBeLessThanOrEqual(TOLERANCE);
                }
              }
            }
          });
        });
      }
    });
  }
});
