import { StreamcellError } from '@streamcell/protocol';
import { parseOptions } from '../args.ts';
import { INPUT_FORMATS } from '../input.ts';
import type { InputFormat } from '../input.ts';
import { LineWriter } from '../output.ts';
import { predict } from '../predict.ts';
import type { Command } from './types.ts';

const HELP = `Usage: streamcell predict --model DIR --input FILE [--state] [--format jsonl|csv]

Runs a model over one sequence, starting from a zero state, and prints one JSON
line per input row: {"step":0,"forecast":[...]}. Forecasts are unscaled and laid
out [step1 targets..., step2 targets..., ...], written at float32 precision
(the shortest decimal that reads back to the model's float32 value); they equal
what the service publishes for a stream that sends the same events.

Options:
  -m, --model DIR     model directory (model.json + its weights file)
  -i, --input FILE    JSONL, one event per line: {"values":[...]} in feature order
                      or {"values":{"name":value,...}}; or CSV with a header row
                      whose columns are matched to the model's features by name
                      (other columns are ignored). "-" reads standard input.
      --format FMT    jsonl or csv (default: from the file name, else from its
                      first character; standard input defaults to jsonl)
      --state         also print "h" (one array per layer) and, for LSTM, "c"
  -h, --help          show this help

Exit status: 0 on success, 2 on a usage error, 1 on any other error.
`;

const OPTIONS = {
  model: { type: 'string', short: 'm' },
  input: { type: 'string', short: 'i' },
  format: { type: 'string' },
  state: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `streamcell predict`: the offline twin of the worker's step loop. */
export const predictCommand: Command = {
  name: 'predict',
  summary: 'run a model over one sequence and print a forecast per step',
  help: HELP,
  async run(args, io) {
    const options = parseOptions(args, OPTIONS);
    if (options.help === true) {
      io.stdout.write(HELP);
      return;
    }
    if (options.model === undefined) throw new StreamcellError('usage', 'missing --model DIR');
    if (options.input === undefined) throw new StreamcellError('usage', 'missing --input FILE');
    let format: InputFormat | undefined;
    if (options.format !== undefined) {
      if (!(INPUT_FORMATS as readonly string[]).includes(options.format)) {
        throw new StreamcellError('usage', `--format must be one of ${INPUT_FORMATS.join(', ')}, not "${options.format}"`);
      }
      format = options.format as InputFormat;
    }
    const out = new LineWriter(io.stdout);
    const steps = predict({
      model: options.model,
      input: options.input,
      state: options.state === true,
      ...(format === undefined ? {} : { format }),
    });
    try {
      // Forecasts come at float32 precision, as the service writes them; h and c are the exact doubles of their float32 bits.
      for await (const step of steps) await out.line(JSON.stringify(step));
    } finally {
      // Lines computed before a bad row are still printed: they are correct,
      // and they show how far the input got.
      await out.flush();
    }
  },
};
