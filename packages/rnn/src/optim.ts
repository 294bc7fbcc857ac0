/** Euclidean norm of all gradients together (PyTorch's clip_grad_norm_ with norm_type 2). */
export function globalNorm(grads: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < grads.length; i++) sum += grads[i]! * grads[i]!;
  return Math.sqrt(sum);
}

/**
 * Scales `grads` in place so that their global norm is at most `maxNorm`, and
 * returns the norm before clipping. Recurrent gradients explode now and then;
 * clipping the whole vector keeps its direction. 0 or Infinity turn clipping
 * off. Unlike PyTorch's clip_grad_norm_, no 1e-6 is added to the norm, so a
 * clipped gradient has norm maxNorm (to rounding) rather than slightly less.
 */
export function clipByGlobalNorm(grads: Float64Array, maxNorm: number): number {
  const norm = globalNorm(grads);
  if (maxNorm > 0 && maxNorm !== Infinity && norm > maxNorm) {
    const scale = maxNorm / norm;
    for (let i = 0; i < grads.length; i++) grads[i] = grads[i]! * scale;
  }
  return norm;
}

/** Hyper-parameters of {@link createAdam}; the defaults are torch.optim.Adam's. */
export interface AdamOptions {
  readonly lr: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
}

/** Adam's state over one flat parameter vector. */
export interface Adam {
  /** Steps taken so far. */
  readonly steps: number;
  /** One update of `params` in place from `grads`. */
  step(params: Float64Array, grads: Float64Array): void;
}

/**
 * Adam (Kingma and Ba) computed as torch.optim.Adam 1.13 does, without weight
 * decay or amsgrad, in float64:
 *   m = β1·m + (1 − β1)·g,  v = β2·v + (1 − β2)·g²
 *   p −= (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
 */
export function createAdam(size: number, options: AdamOptions): Adam {
  const { lr } = options;
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const eps = options.eps ?? 1e-8;
  const m = new Float64Array(size);
  const v = new Float64Array(size);
  let t = 0;
  return {
    get steps() {
      return t;
    },
    step(params, grads) {
      if (params.length !== size || grads.length !== size) {
        throw new RangeError(`Adam was made for ${size} parameters, got ${params.length} parameters and ${grads.length} gradients`);
      }
      t++;
      const stepSize = lr / (1 - beta1 ** t);
      const root2 = Math.sqrt(1 - beta2 ** t);
      for (let i = 0; i < size; i++) {
        const g = grads[i]!;
        const mi = beta1 * m[i]! + (1 - beta1) * g;
        const vi = beta2 * v[i]! + (1 - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        params[i] = params[i]! - (stepSize * mi) / (Math.sqrt(vi) / root2 + eps);
      }
    },
  };
}
