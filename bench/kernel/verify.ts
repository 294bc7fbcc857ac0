import type { Stepper } from '@streamcell/rnn';
import type { OrtStepper } from './ort-stepper.ts';
import { fromOrtState, toOrtState } from './ort-stepper.ts';
import type { Rng } from './random.ts';
import { fillUniform } from './random.ts';

/** Largest absolute difference allowed between our step and ORT's. */
export const AGREEMENT_TOLERANCE = 1e-4;

/** Thrown when our kernel and the ONNX graph disagree: no timing is worth anything then. */
export class KernelMismatchError extends Error {
  override readonly name = 'KernelMismatchError';
}

/** Worst differences found by {@link compareOneStep}. */
export interface StepDifference {
  readonly out: number;
  readonly state: number;
}

/**
 * Runs one step of `batch` streams with the same random inputs and states
 * (x uniform in ±1, every state value uniform in ±1) through our stepper and
 * through ORT, and returns the largest absolute differences of the head's
 * output and of the new state.
 */
export async function compareOneStep(
  ours: Stepper,
  ort: OrtStepper,
  batch: number,
  stateSize: number,
  rng: Rng,
): Promise<StepDifference> {
  const { spec } = ours;
  const x = fillUniform(rng, new Float32Array(batch * spec.inputSize), 1);
  const state = fillUniform(rng, new Float32Array(batch * stateSize), 1);
  const ortState = ort.allocateState();
  toOrtState(spec, batch, state, ortState);

  const ortOut = new Float32Array(batch * spec.outputSize);
  await ort.step(batch, x, ortState, ortOut);
  const ortNewState = new Float32Array(state.length);
  fromOrtState(spec, batch, ortState, ortNewState);

  const out = new Float32Array(batch * spec.outputSize);
  ours.step(batch, x, state, out);
  return { out: maxAbsDifference(out, ortOut), state: maxAbsDifference(state, ortNewState) };
}

/** {@link compareOneStep}, throwing {@link KernelMismatchError} beyond the tolerance. */
export async function assertSameStep(
  ours: Stepper,
  ort: OrtStepper,
  batch: number,
  stateSize: number,
  rng: Rng,
): Promise<StepDifference> {
  const difference = await compareOneStep(ours, ort, batch, stateSize, rng);
  if (!(difference.out <= AGREEMENT_TOLERANCE && difference.state <= AGREEMENT_TOLERANCE)) {
    const { cell, hiddenSize, inputSize, numLayers, outputSize } = ours.spec;
    throw new KernelMismatchError(
      `our ${cell} step and ONNX Runtime's disagree (hidden ${hiddenSize}, input ${inputSize}, ` +
        `layers ${numLayers}, output ${outputSize}, batch ${batch}): max |diff| out ${difference.out}, ` +
        `state ${difference.state}, tolerance ${AGREEMENT_TOLERANCE}`,
    );
  }
  return difference;
}

/** NaN anywhere counts as an infinite difference. */
function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}
