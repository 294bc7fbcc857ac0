import { basename, extname } from 'node:path';
import { checkColumns, demoDataset, demoDatasetFile } from '@streamcell/datasets';
import { TARGET_MODES } from '@streamcell/model';
import { StreamcellError } from '@streamcell/protocol';
import { CELL_TYPES, LOSS_KINDS } from '@streamcell/rnn';
import type { CellType, LossKind } from '@streamcell/rnn';
import { parseOptions } from '../args.ts';
import { choiceFlag, integerFlag, listFlag, numberFlag } from '../flags.ts';
import { lineProgress, terminalProgress } from '../train/progress.ts';
import type { ProgressView } from '../train/progress.ts';
import { runTraining } from '../train/run.ts';
import type { TrainSettings } from '../train/run.ts';
import type { CliIo, Command } from './types.ts';

/** Defaults of `streamcell train`, shown in its help and used by tests. */
export const TRAIN_DEFAULTS = {
  cell: 'lstm',
  hidden: 32,
  layers: 1,
  horizon: 1,
  window: 32,
  epochs: 30,
  lr: 0.003,
  clip: 1,
  seed: 1,
  batchSize: 32,
  loss: 'mse',
  huberDelta: 1,
  patience: 10,
  trainFraction: 0.8,
  validationFraction: 0.1,
  targetMode: 'level',
  version: '1',
} as const;

const D = TRAIN_DEFAULTS;

const HELP = `Usage: streamcell train (--data FILE.csv --features a,b | --dataset NAME) --out DIR [options]

Trains a recurrent forecaster on the series of a CSV file with truncated
backpropagation through time and writes a streamcell/v1 model (model.json,
weights.safetensors) plus report.json and report.html (loss curves) to DIR.

Each series (one per --group-column value, else the whole file) is cut by
time: the first --train-fraction of its rows is the training part; the last
--validation-fraction of that part is for validation only (early stopping and
the choice of the best epoch); the rest is held out, so that
'streamcell eval --from <train fraction>' scores rows the model never saw.
The scaler (mean and sample standard deviation per feature) is fitted on the
training rows only; a feature that is constant there is an error. No target
of a training row reaches into the validation part, and none of a validation
row into the held-out part. Validation rows are scored with the state built
over all the rows before them, as the service would have it.

Data:
      --data FILE         CSV file with a header row
      --dataset NAME      a demo data set instead: sensor, stock or weather
                          (file and default columns from its npm package)
      --features A,B      input columns, in model order
      --targets A         columns to forecast, each also a feature (default: all features)
      --time-column C     order rows by this column (ISO date or number) instead of file order
      --group-column C    one series per value of this column
Model:
      --cell KIND         lstm, gru, rnn_tanh or rnn_relu (default ${D.cell})
      --hidden N          hidden units per layer, >= 1 (default ${D.hidden})
      --layers N          stacked layers, >= 1 (default ${D.layers})
      --horizon N         steps ahead to forecast, >= 1 (default ${D.horizon})
      --target-mode M     level: the head forecasts the scaled values; delta: the
                          change from the last observed value (default ${D.targetMode})
Training:
      --window K          TBPTT window: steps per gradient update, >= 1 (default ${D.window})
      --epochs N          most epochs, >= 1 (default ${D.epochs})
      --lr X              Adam learning rate, > 0 (default ${D.lr})
      --clip X            global gradient norm limit, 0 = off (default ${D.clip})
      --batch-size N      series chunks stepped side by side, >= 1 (default ${D.batchSize})
      --loss KIND         mse, mae or huber (default ${D.loss})
      --huber-delta X     Huber's delta, > 0 (default ${D.huberDelta})
      --patience N        stop after N epochs without a better validation loss (default ${D.patience})
      --seed N            seed of the initial weights; same seed, same data: same weights
                          (default ${D.seed})
      --train-fraction F  share of each series to train on, in (0, 1) (default ${D.trainFraction})
      --validation-fraction F
                          share of the training part used for validation, in [0, 1);
                          0 = none, no early stopping, last epoch kept (default ${D.validationFraction})
Output:
  -o, --out DIR           model directory to write
      --name NAME         model name (default: the data set or file name)
      --version V         model version (default ${D.version})
      --quiet             no progress output
  -h, --help              show this help

Progress goes to stderr: a live bar on a terminal, one line per epoch
otherwise. On success one JSON line on stdout summarises the run.

Exit status: 0 on success, 2 on a usage error, 1 on any other error.
`;

const OPTIONS = {
  data: { type: 'string' },
  dataset: { type: 'string' },
  features: { type: 'string' },
  targets: { type: 'string' },
  'time-column': { type: 'string' },
  'group-column': { type: 'string' },
  cell: { type: 'string' },
  hidden: { type: 'string' },
  layers: { type: 'string' },
  horizon: { type: 'string' },
  'target-mode': { type: 'string' },
  window: { type: 'string' },
  epochs: { type: 'string' },
  lr: { type: 'string' },
  clip: { type: 'string' },
  'batch-size': { type: 'string' },
  loss: { type: 'string' },
  'huber-delta': { type: 'string' },
  patience: { type: 'string' },
  seed: { type: 'string' },
  'train-fraction': { type: 'string' },
  'validation-fraction': { type: 'string' },
  out: { type: 'string', short: 'o' },
  name: { type: 'string' },
  version: { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(message: string): StreamcellError {
  return new StreamcellError('usage', message);
}

/** Turns `train`'s arguments into settings: every flag checked, defaults filled in. */
export function trainSettings(args: readonly string[]): TrainSettings | 'help' {
  const o = parseOptions(args, OPTIONS);
  if (o.help === true) return 'help';
  if (o.data !== undefined && o.dataset !== undefined) throw usage('give --data FILE or --dataset NAME, not both');
  if (o.data === undefined && o.dataset === undefined) throw usage('missing --data FILE.csv (or --dataset sensor|stock|weather)');
  if (o.out === undefined) throw usage('missing --out DIR');
  const demo = o.dataset === undefined ? undefined : demoDataset(o.dataset);
  const features = listFlag('features', o.features) ?? demo?.columns.features;
  if (features === undefined) throw usage('missing --features (comma-separated input columns)');
  const targets = listFlag('targets', o.targets) ?? (o.features === undefined ? demo?.columns.targets : undefined) ?? features;
  const timeColumn = o['time-column'] ?? demo?.columns.timeColumn;
  const groupColumn = o['group-column'] ?? demo?.columns.groupColumn;
  const columns = {
    features: [...features],
    targets: [...targets],
    ...(timeColumn === undefined ? {} : { timeColumn }),
    ...(groupColumn === undefined ? {} : { groupColumn }),
  };
  checkColumns(columns);
  const data = demo === undefined ? o.data! : demoDatasetFile(demo);
  const version = o.version ?? D.version;
  const name = o.name ?? demo?.name ?? basename(data, extname(data));
  for (const [flag, value] of [
    ['name', name],
    ['version', version],
  ] as const) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value)) {
      throw usage(`--${flag} must start with a letter or digit and hold only letters, digits, ".", "_" and "-", not "${value}"`);
    }
  }
  const positive = { min: 1 };
  return {
    data,
    ...(demo === undefined ? {} : { dataset: demo.name }),
    columns,
    cell: choiceFlag<CellType>('cell', o.cell, D.cell, CELL_TYPES),
    hidden: integerFlag('hidden', o.hidden, D.hidden, { min: 1, max: 4096 }),
    layers: integerFlag('layers', o.layers, D.layers, { min: 1, max: 16 }),
    horizon: integerFlag('horizon', o.horizon, D.horizon, { min: 1, max: 10_000 }),
    window: integerFlag('window', o.window, D.window, { min: 1, max: 100_000 }),
    epochs: integerFlag('epochs', o.epochs, D.epochs, { min: 1, max: 1_000_000 }),
    lr: numberFlag('lr', o.lr, D.lr, { min: 0, minOpen: true, max: 10 }),
    clip: numberFlag('clip', o.clip, D.clip, { min: 0 }),
    seed: integerFlag('seed', o.seed, D.seed, { min: 0, max: 2 ** 32 - 1 }),
    batchSize: integerFlag('batch-size', o['batch-size'], D.batchSize, { min: 1, max: 65_536 }),
    loss: choiceFlag<LossKind>('loss', o.loss, D.loss, LOSS_KINDS),
    huberDelta: numberFlag('huber-delta', o['huber-delta'], D.huberDelta, { min: 0, minOpen: true }),
    patience: integerFlag('patience', o.patience, D.patience, positive),
    trainFraction: numberFlag('train-fraction', o['train-fraction'], D.trainFraction, { min: 0, max: 1, minOpen: true, maxOpen: true }),
    validationFraction: numberFlag('validation-fraction', o['validation-fraction'], D.validationFraction, { min: 0, max: 1, maxOpen: true }),
    targetMode: choiceFlag('target-mode', o['target-mode'], D.targetMode, TARGET_MODES),
    name,
    version,
    out: o.out,
  };
}

function progressView(io: CliIo, withValidation: boolean): ProgressView {
  const stream = io.stderr as NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  // A pseudo-terminal without a size reports 0 columns.
  const columns = stream.columns !== undefined && stream.columns > 0 ? stream.columns : 100;
  return stream.isTTY === true ? terminalProgress(stream, withValidation, columns) : lineProgress(stream, withValidation);
}

/** `streamcell train`: a model from a CSV file in one command. */
export const trainCommand: Command = {
  name: 'train',
  summary: 'train a forecaster on a CSV file and write a model with its training report',
  help: HELP,
  async run(args, io) {
    const settings = trainSettings(args);
    if (settings === 'help') {
      io.stdout.write(HELP);
      return;
    }
    const quiet = args.includes('--quiet');
    const view = quiet ? undefined : progressView(io, settings.validationFraction > 0);
    let outcome;
    try {
      outcome = await runTraining(settings, view === undefined ? undefined : (p) => view.update(p));
    } finally {
      view?.done();
    }
    const { manifest, result, reportFiles } = outcome;
    const best = result.history.find((h) => h.epoch === result.bestEpoch);
    io.stdout.write(
      `${JSON.stringify({
        model: settings.out,
        name: manifest.name,
        version: manifest.version,
        epochs: result.history.length,
        bestEpoch: result.bestEpoch,
        stoppedEarly: result.stoppedEarly,
        trainLoss: best?.trainLoss ?? null,
        validationLoss: best?.validationLoss ?? null,
        report: reportFiles.json,
        plot: reportFiles.html,
      })}\n`,
    );
  },
};
