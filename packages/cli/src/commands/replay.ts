import { StreamcellError } from '@streamcell/protocol';
import { DATASET_NAMES, describeSettings, flagSpec, loadReplayConfig, runReplay } from '@streamcell/replayer';
import { createLogger } from '@streamcell/telemetry';
import { parseOptions, type OptionSpec } from '../args.ts';
import type { Command } from './types.ts';

const HELP = `Usage: streamcell replay (--dataset ${DATASET_NAMES.join('|')} | --data FILE.csv --features a,b[,...]) [--rate N] [--loop] [options]

Streams events into Kafka at a target rate, keyed by stream id, each stream's
events in order. Demo data sets: sensor (streams sensor-mote-1..4), stock
(stock-sp500), weather (weather-seattle). synthetic: --streams N of sine +
noise + drift (synthetic-0000, ...), with the features of --model DIR.
A CSV takes the same column flags as train. Progress goes to stderr (one live
line on a terminal); the summary is printed as JSON on stdout at the end.

Examples:
  streamcell replay --dataset weather --rate 50 --loop
  streamcell replay --dataset synthetic --model models/weather/1 --streams 100 --rate 2000 --duration 60
  streamcell replay --data readings.csv --features temp,humidity --group-column sensor --time-column time

Options (each also read from the environment variable in brackets; a flag wins):
${describeSettings()}
  -h, --help  show this help

Exit status: 0 when the replay ends or is interrupted, 2 on a usage error,
1 when it cannot run or no event could be sent.
`;

/** `streamcell replay`: the replayer service as a command. */
export const replayCommand: Command = {
  name: 'replay',
  summary: 'stream a data set, a CSV file or synthetic signals into Kafka at a rate',
  help: HELP,
  async run(args, io) {
    const spec: Record<string, OptionSpec> = { ...flagSpec(), help: { type: 'boolean', short: 'h' } };
    const options = parseOptions(args, spec) as Record<string, string | true | undefined>;
    if (options.help === true) {
      io.stdout.write(HELP);
      return;
    }
    const config = loadReplayConfig(options, io.env, { service: false });
    // The command's own lines are the progress and the summary; logs only say what went wrong.
    const level = typeof options['log-level'] === 'string' ? options['log-level'] : (io.env.LOG_LEVEL ?? 'warn');
    const log = createLogger({ name: 'streamcell-replay', level, destination: io.stderr });
    let detach = (): void => {};
    const summary = await runReplay(config, {
      progress: io.stderr,
      log,
      onStart: ({ stop }) => {
        // Ctrl-C finishes the sends in flight and prints the summary; a second one exits.
        let signals = 0;
        const onSignal = (): void => {
          signals += 1;
          if (signals > 1) process.exit(130);
          stop();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        detach = () => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        };
      },
    }).finally(() => detach());
    io.stdout.write(`${JSON.stringify(summary)}\n`);
    if (summary.sent === 0 && summary.errors > 0) {
      throw new StreamcellError('kafka_unavailable', `no event could be sent (${summary.errors} failed); see the log lines above`);
    }
  },
};
