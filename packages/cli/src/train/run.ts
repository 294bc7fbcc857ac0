import { demoDataset, readSeriesCsv } from '@streamcell/datasets';
import type { SeriesColumns } from '@streamcell/datasets';
import { saveModel } from '@streamcell/model';
import type { Manifest, TargetMode } from '@streamcell/model';
import { StreamcellError } from '@streamcell/protocol';
import { TrainingError, train } from '@streamcell/rnn';
import type { CellType, LossKind, RnnSpec, TrainProgress, TrainResult } from '@streamcell/rnn';
import { buildSequences, fitScaler, servingScaler, splitSeries } from './prepare.ts';
import type { SeriesSplit } from './prepare.ts';
import { writeReport } from './report.ts';
import type { TrainReport } from './report.ts';

/** Everything `streamcell train` needs, flags resolved and defaults filled in. */
export interface TrainSettings {
  /** CSV file to read. */
  readonly data: string;
  /** The demo data set the file came from (`--dataset`), recorded for provenance. */
  readonly dataset?: string;
  readonly columns: SeriesColumns & { readonly targets: readonly string[] };
  readonly cell: CellType;
  readonly hidden: number;
  readonly layers: number;
  readonly horizon: number;
  readonly window: number;
  readonly epochs: number;
  readonly lr: number;
  readonly clip: number;
  readonly seed: number;
  readonly batchSize: number;
  readonly loss: LossKind;
  readonly huberDelta: number;
  readonly patience: number;
  readonly trainFraction: number;
  readonly validationFraction: number;
  readonly targetMode: TargetMode;
  readonly name: string;
  readonly version: string;
  /** Model directory to write. */
  readonly out: string;
}

/** What a finished training run produced. */
export interface TrainOutcome {
  readonly manifest: Manifest;
  readonly result: TrainResult;
  readonly report: TrainReport;
  /** Paths of report.json and report.html. */
  readonly reportFiles: { readonly json: string; readonly html: string };
}

/**
 * Reads the CSV, splits every series by time, fits the scaler on the
 * training rows, trains, and writes the model and its report into
 * `settings.out`. The trainer's own errors (a bad option, diverging loss)
 * come back as StreamcellErrors with the trainer's code.
 */
export async function runTraining(settings: TrainSettings, onProgress?: (p: TrainProgress) => void): Promise<TrainOutcome> {
  const set = await readSeriesCsv(settings.data, settings.columns);
  const splits = splitSeries(set.series, settings);
  const scaler = fitScaler(set, splits);
  const featureScaler = servingScaler(set, scaler, settings.horizon, settings.targetMode);
  const { train: trainSeqs, validation } = buildSequences(set, splits, featureScaler, settings.horizon, settings.targetMode);
  const spec: RnnSpec = {
    cell: settings.cell,
    inputSize: set.features.length,
    hiddenSize: settings.hidden,
    numLayers: settings.layers,
    outputSize: settings.horizon * set.targets.length,
  };

  const started = Date.now();
  let result: TrainResult;
  try {
    result = train({
      spec,
      train: trainSeqs,
      validation,
      window: settings.window,
      epochs: settings.epochs,
      lr: settings.lr,
      clip: settings.clip,
      seed: settings.seed,
      batchSize: settings.batchSize,
      loss: settings.loss,
      huberDelta: settings.huberDelta,
      patience: settings.patience,
      ...(onProgress === undefined ? {} : { onProgress }),
    });
  } catch (err) {
    if (err instanceof TrainingError) throw new StreamcellError(err.code, err.message, { cause: err });
    throw err;
  }
  const seconds = (Date.now() - started) / 1000;

  const best = result.history.find((h) => h.epoch === result.bestEpoch);
  const manifest = await saveModel(settings.out, {
    name: settings.name,
    version: settings.version,
    cell: spec.cell,
    inputSize: spec.inputSize,
    hiddenSize: spec.hiddenSize,
    numLayers: spec.numLayers,
    horizon: settings.horizon,
    features: set.features,
    targets: set.targets,
    outputSize: spec.outputSize,
    scaler,
    targetMode: settings.targetMode,
    // Deterministic on purpose (no dates or durations): the same command
    // and data write the same bytes, so a retrained model diffs clean.
    metadata: {
      trainedWith: 'streamcell train',
      data: settings.dataset === undefined ? { file: settings.data } : { dataset: settings.dataset },
      columns: {
        ...(settings.columns.timeColumn === undefined ? {} : { timeColumn: settings.columns.timeColumn }),
        ...(settings.columns.groupColumn === undefined ? {} : { groupColumn: settings.columns.groupColumn }),
      },
      split: { trainFraction: settings.trainFraction, validationFraction: settings.validationFraction },
      training: {
        window: settings.window,
        epochs: result.history.length,
        bestEpoch: result.bestEpoch,
        loss: settings.loss,
        lr: settings.lr,
        clip: settings.clip,
        batchSize: settings.batchSize,
        seed: settings.seed,
        trainLoss: best?.trainLoss ?? null,
        validationLoss: best?.validationLoss ?? null,
      },
    },
  }, result.weights);

  const report = buildReport(settings, manifest, splits, result, seconds);
  const reportFiles = await writeReport(settings.out, report);
  return { manifest, result, report, reportFiles };
}

/** The data file as the report names it: a demo data set by its npm package path, not this machine's absolute path. */
function dataLabel(settings: TrainSettings): string {
  if (settings.dataset === undefined) return settings.data;
  const { source } = demoDataset(settings.dataset);
  return `${source.package}/${source.path}`;
}

function buildReport(settings: TrainSettings, manifest: Manifest, splits: readonly SeriesSplit[], result: TrainResult, seconds: number): TrainReport {
  const file = dataLabel(settings);
  const rows = (f: (s: SeriesSplit) => number): number => splits.reduce((sum, s) => sum + f(s), 0);
  return {
    format: 'streamcell-train-report/v1',
    createdAt: new Date().toISOString(),
    model: { dir: settings.out, name: manifest.name, version: manifest.version, cell: manifest.cell, hiddenSize: manifest.hiddenSize, numLayers: manifest.numLayers, horizon: manifest.horizon, targetMode: manifest.targetMode },
    settings: { ...settings, data: file, columns: { ...settings.columns } },
    data: {
      file,
      ...(settings.dataset === undefined ? {} : { dataset: settings.dataset }),
      features: manifest.features,
      targets: manifest.targets,
      rows: rows((s) => s.length),
      trainRows: rows((s) => s.trainEnd),
      validationRows: rows((s) => s.heldOutStart - s.trainEnd),
      heldOutRows: rows((s) => s.length - s.heldOutStart),
      series: splits.map((s) => ({
        id: s.id,
        rows: s.length,
        trainRows: s.trainEnd,
        validationRows: s.heldOutStart - s.trainEnd,
        heldOutRows: s.length - s.heldOutStart,
      })),
    },
    scaler: manifest.scaler,
    history: result.history,
    bestEpoch: result.bestEpoch,
    stoppedEarly: result.stoppedEarly,
    seconds,
  };
}
