import { StreamcellError, float32Number, isStreamcellError } from '@streamcell/protocol';
import { createScaler, loadModel } from '@streamcell/model';
import type { LoadedModel } from '@streamcell/model';
import { createStepper, stateSize } from '@streamcell/rnn';
import { readInputRows } from './input.ts';
import type { InputFormat, InputRow } from './input.ts';

/** One line of `predict` output. */
export interface PredictStep {
  readonly step: number;
  /**
   * outputSize values, [step1 targets..., step2 targets..., ...], unscaled, at
   * float32 precision as forecast messages carry them ({@link float32Number}).
   */
  readonly forecast: number[];
  /** Hidden state after this step, one array per layer (only with `state`). */
  readonly h?: number[][];
  /** LSTM cell state after this step, one array per layer (only with `state`, LSTM only). */
  readonly c?: number[][];
}

/** Options of {@link predictRows}. */
export interface PredictRowsOptions {
  /** Also report h (and c for LSTM) after every step. */
  readonly state?: boolean;
  /** Labels errors about a row, e.g. the input file name. */
  readonly source?: string;
}

/**
 * Runs a loaded model over one sequence, starting from a zero state. It uses
 * the same batched kernel (`createStepper`) and scaler as the worker, with a
 * batch of one: the kernel's results do not depend on batch size or position,
 * so what this yields is exactly what the service would publish for a stream
 * that sent these events.
 */
export async function* predictRows(
  model: LoadedModel,
  rows: AsyncIterable<InputRow> | Iterable<InputRow>,
  options: PredictRowsOptions = {},
): AsyncGenerator<PredictStep> {
  const { manifest, weights } = model;
  const stepper = createStepper(weights, { maxBatch: 1 });
  const scaler = createScaler(manifest);
  const H = manifest.hiddenSize;
  const L = manifest.numLayers;
  const state = new Float32Array(stateSize(weights));
  const x = new Float32Array(manifest.inputSize);
  const head = new Float32Array(manifest.outputSize);
  const forecast = new Float32Array(manifest.outputSize);
  const lstm = manifest.cell === 'lstm';

  let step = 0;
  for await (const row of rows) {
    try {
      scaler.scaleRow(row.values, x);
    } catch (err) {
      if (!isStreamcellError(err)) throw err;
      const where = options.source === undefined ? `line ${row.line}` : `${options.source} line ${row.line}`;
      throw new StreamcellError(err.code, `${where}: ${err.message}`, { cause: err });
    }
    stepper.step(1, x, state, head);
    scaler.toForecast(head, 0, x, 0, forecast);
    const result: { step: number; forecast: number[]; h?: number[][]; c?: number[][] } = {
      step,
      forecast: Array.from(forecast, float32Number),
    };
    if (options.state === true) {
      // State layout (see stateSize): h of every layer, then c of every layer for LSTM.
      result.h = [];
      for (let l = 0; l < L; l++) result.h.push(Array.from(state.subarray(l * H, (l + 1) * H)));
      if (lstm) {
        result.c = [];
        for (let l = 0; l < L; l++) result.c.push(Array.from(state.subarray((L + l) * H, (L + l + 1) * H)));
      }
    }
    yield result;
    step++;
  }
}

/** Options of {@link predict}. */
export interface PredictOptions {
  /** Model directory (`model.json` + weights). */
  readonly model: string;
  /** JSONL or CSV file; `-` reads standard input (JSONL unless `format` says csv). */
  readonly input: string;
  /** Overrides detection from the file name / first character. */
  readonly format?: InputFormat;
  readonly state?: boolean;
}

/** Loads the model and runs it over the input file: the in-process form of `streamcell predict`. */
export async function* predict(options: PredictOptions): AsyncGenerator<PredictStep> {
  const model = await loadModel(options.model);
  const rows = readInputRows(options.input, model.manifest.features, options.format);
  yield* predictRows(model, rows, { state: options.state === true, source: options.input });
}
