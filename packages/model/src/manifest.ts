import { StreamcellError } from '@streamcell/protocol';
import { CELL_TYPES } from '@streamcell/rnn';
import type { CellType } from '@streamcell/rnn';
import { z } from 'zod';

/** The only artifact format this build reads and writes. */
export const MODEL_FORMAT = 'streamcell/v1';

/** File name of the manifest inside a model directory. */
export const MANIFEST_FILE = 'model.json';

/** Weights file name used when the manifest does not name one. */
export const DEFAULT_WEIGHTS_FILE = 'weights.safetensors';

/** How the head's outputs relate to the targets; see {@link Manifest.targetMode}. */
export const TARGET_MODES = ['level', 'delta'] as const;

/** One of {@link TARGET_MODES}. */
export type TargetMode = (typeof TARGET_MODES)[number];

/**
 * Dimensions beyond this are treated as a corrupt manifest rather than a model:
 * they would only fail later, deep inside an allocation.
 */
const MAX_DIM = 1 << 24;

/** Per-feature standardisation: `scaled = (raw - mean) / std`. */
export interface Scaler {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** A validated `model.json` (format `streamcell/v1`), with defaults filled in. */
export interface Manifest {
  readonly format: typeof MODEL_FORMAT;
  readonly name: string;
  /** Opaque label; a change resets every stream's state in the worker. */
  readonly version: string;
  readonly cell: CellType;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  /** Forecast steps per event. */
  readonly horizon: number;
  /** Input column names, in the order the cell sees them. */
  readonly features: readonly string[];
  /** Forecast columns; each one is also a feature (the scaler is shared). */
  readonly targets: readonly string[];
  /** horizon x targets.length, laid out [step1 targets..., step2 targets..., ...]. */
  readonly outputSize: number;
  /** null means identity (inputs and outputs already in model units). */
  readonly scaler: Scaler | null;
  /**
   * `level`: the head predicts the (scaled) target values. `delta`: it predicts
   * the change from the last observed value of each target, in scaled units.
   */
  readonly targetMode: TargetMode;
  /** Weights file name, relative to the model directory. */
  readonly weights: string;
  /** Free-form provenance (training run, dataset); never interpreted. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** What a caller may hand to {@link parseManifest} or `saveModel`: optional fields may be left out. */
export type ManifestInput = Omit<Manifest, 'format' | 'scaler' | 'targetMode' | 'weights'> & {
  readonly format?: typeof MODEL_FORMAT;
  readonly scaler?: Scaler | null;
  readonly targetMode?: TargetMode;
  readonly weights?: string;
};

const dim = z
  .int({ error: 'must be a positive integer' })
  .min(1, 'must be a positive integer')
  .max(MAX_DIM, `must be at most ${MAX_DIM}`);
// zod's number() already refuses NaN and ±Infinity; say so in our words.
const finite = z.number({ error: 'must be a finite number' });
const columnName = z.string().min(1, 'must be a non-empty string');

// Strict: a misspelt optional key ("targetmode") would otherwise be silently
// ignored and the model would serve with the default, which is the worst failure.
const manifestSchema = z.strictObject({
  format: z.string(),
  name: z.string().min(1, 'must be a non-empty string'),
  version: z.string({ error: 'must be a string, e.g. "3"' }).min(1, 'must be a non-empty string'),
  cell: z.string(),
  inputSize: dim,
  hiddenSize: dim,
  numLayers: dim,
  horizon: dim,
  features: z.array(columnName).min(1, 'must list at least one feature'),
  targets: z.array(columnName).min(1, 'must list at least one target'),
  outputSize: dim,
  scaler: z
    .strictObject({ mean: z.array(finite), std: z.array(finite) })
    .nullable()
    .optional(),
  targetMode: z.enum(TARGET_MODES, { error: `must be one of ${TARGET_MODES.join(', ')}` }).optional(),
  weights: z
    .string()
    .regex(/^(?!\.\.?$)[^/\\]+$/, 'must be a plain file name inside the model directory')
    .optional(),
  metadata: z.record(z.string(), z.unknown(), { error: 'must be a JSON object' }).optional(),
});

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    out += typeof key === 'number' ? `[${key}]` : out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}

function valueAt(json: unknown, path: readonly PropertyKey[]): unknown {
  let value = json;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** One schema issue in operator terms: which field, what is wrong, what was there. */
function describeIssue(json: unknown, issue: z.core.$ZodIssue): string {
  const field = `field "${fieldPath(issue.path)}"`;
  if (issue.code === 'unrecognized_keys') {
    return `unknown key(s) ${issue.keys.map((k) => `"${[...issue.path, k].map(String).join('.')}"`).join(', ')}`;
  }
  const value = valueAt(json, issue.path);
  if (value === undefined) return `${field} is missing`;
  if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input')) {
    return `${field} must be of type ${issue.expected} (got ${show(value)})`;
  }
  return `${field} ${issue.message} (got ${show(value)})`;
}

function invalid(file: string, field: string, problem: string): StreamcellError {
  return new StreamcellError('model_manifest_invalid', `${file}: field "${field}" ${problem}`);
}

function findDuplicate(names: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}

/**
 * Validates a parsed `model.json` and fills in defaults. Cross-field rules
 * (sizes agreeing with the name lists, scaler lengths, targets being features)
 * are checked here so that every later stage can trust the manifest; messages
 * name `file` and the offending field because operators fix these by hand.
 */
export function parseManifest(json: unknown, file: string = MANIFEST_FILE): Manifest {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new StreamcellError('model_manifest_invalid', `${file}: expected a JSON object`);
  }
  // Format first: a file from a future format should be reported as such, not as
  // a list of schema complaints about fields this build does not know.
  const format = (json as Record<string, unknown>)['format'];
  if (format !== MODEL_FORMAT) {
    throw invalid(
      file,
      'format',
      format === undefined
        ? `is missing; expected "${MODEL_FORMAT}"`
        : `is ${JSON.stringify(format)}; this build reads only "${MODEL_FORMAT}"`,
    );
  }
  const result = manifestSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => describeIssue(json, issue));
    throw new StreamcellError('model_manifest_invalid', `${file}: ${problems.join('; ')}`);
  }
  const m = result.data;

  if (!(CELL_TYPES as readonly string[]).includes(m.cell)) {
    throw invalid(file, 'cell', `is ${JSON.stringify(m.cell)}; expected one of ${CELL_TYPES.join(', ')}`);
  }
  const cell = m.cell as CellType;

  if (m.inputSize !== m.features.length) {
    throw invalid(file, 'inputSize', `is ${m.inputSize} but "features" lists ${m.features.length} names`);
  }
  const dupFeature = findDuplicate(m.features);
  if (dupFeature !== undefined) throw invalid(file, 'features', `lists "${dupFeature}" twice`);
  const dupTarget = findDuplicate(m.targets);
  if (dupTarget !== undefined) throw invalid(file, 'targets', `lists "${dupTarget}" twice`);
  const notFeatures = m.targets.filter((t) => !m.features.includes(t));
  if (notFeatures.length > 0) {
    // Forecasts are unscaled with the feature's mean/std and `delta` adds the
    // feature's last value, so a target must be an observed feature.
    throw invalid(
      file,
      'targets',
      `names ${notFeatures.map((t) => `"${t}"`).join(', ')} which ${notFeatures.length === 1 ? 'is' : 'are'} not among "features"`,
    );
  }
  if (m.outputSize !== m.horizon * m.targets.length) {
    throw invalid(
      file,
      'outputSize',
      `is ${m.outputSize} but horizon x targets = ${m.horizon} x ${m.targets.length} = ${m.horizon * m.targets.length}`,
    );
  }

  let scaler: Scaler | null = null;
  if (m.scaler) {
    const { mean, std } = m.scaler;
    if (mean.length !== m.inputSize) {
      throw invalid(file, 'scaler.mean', `has ${mean.length} values but there are ${m.inputSize} features`);
    }
    if (std.length !== m.inputSize) {
      throw invalid(file, 'scaler.std', `has ${std.length} values but there are ${m.inputSize} features`);
    }
    std.forEach((s, i) => {
      if (!(s > 0)) throw invalid(file, `scaler.std[${i}]`, `is ${s}; a standard deviation must be > 0`);
    });
    scaler = { mean, std };
  }

  const manifest: Manifest = {
    format: MODEL_FORMAT,
    name: m.name,
    version: m.version,
    cell,
    inputSize: m.inputSize,
    hiddenSize: m.hiddenSize,
    numLayers: m.numLayers,
    horizon: m.horizon,
    features: m.features,
    targets: m.targets,
    outputSize: m.outputSize,
    scaler,
    targetMode: m.targetMode ?? 'level',
    weights: m.weights ?? DEFAULT_WEIGHTS_FILE,
    ...(m.metadata === undefined ? {} : { metadata: m.metadata }),
  };
  return manifest;
}

/** Parses the text of a `model.json`; invalid JSON is a manifest error naming `file`. */
export function parseManifestText(text: string, file: string = MANIFEST_FILE): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new StreamcellError('model_manifest_invalid', `${file}: invalid JSON (${(err as Error).message})`, { cause: err });
  }
  return parseManifest(json, file);
}
