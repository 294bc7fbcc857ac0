import { initWeights, seededRandom } from '@streamcell/rnn';
import type { RnnSpec, RnnWeights } from '@streamcell/rnn';

/** Uniform floats in [0, 1) from a seed; the same seed gives the same sequence. */
export type Rng = () => number;

/** Seeded generator: the weights and inputs of a run are repeatable from its seed. */
export const createRng: (seed: number) => Rng = seededRandom;

/** Fills `out` with independent uniform draws from [-bound, bound). */
export function fillUniform(rng: Rng, out: Float32Array, bound: number): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = (rng() * 2 - 1) * bound;
  return out;
}

/** Random weights initialised like PyTorch's nn.LSTM/nn.GRU/nn.RNN (see initWeights). */
export function randomWeights(spec: RnnSpec, seed: number): RnnWeights {
  return initWeights(spec, seededRandom(seed));
}
