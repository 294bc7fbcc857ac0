/**
 * The replayer service: `node services/replayer/src/main.ts [flags]` (the
 * image's start). Settings from the environment and flags (config.ts);
 * exits 2 on bad settings, 1 when the replay fails, 0 when it ends (the
 * data ran out, --limit or --duration) or is stopped by SIGTERM/SIGINT.
 */
import { parseArgs } from 'node:util';
import { isStreamcellError } from '@streamcell/protocol';
import { createLogger, loadOrExit, onStopSignals } from '@streamcell/telemetry';
import { ENV_VARS, describeSettings, flagSpec, loadReplayConfig } from './config.ts';
import { runReplay } from './run.ts';

const config = loadOrExit(() => {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { ...flagSpec(), help: { type: 'boolean' } }, strict: true, allowPositionals: false });
  if (values.help === true) {
    process.stdout.write(`Usage: node services/replayer/src/main.ts [flags]\n\nEvery flag has an environment variable (in brackets); a flag wins.\n\n${describeSettings()}\n`);
    process.exit(0);
  }
  return loadReplayConfig(values as Record<string, string | true>, process.env, { service: true });
});
const log = createLogger({ name: 'streamcell-replayer', level: config.logLevel });
log.info({ settings: Object.fromEntries(ENV_VARS.map((v) => [v.name, process.env[v.name]]).filter(([, v]) => v !== undefined)) }, 'starting');

try {
  const summary = await runReplay(config, {
    progress: process.stderr,
    log,
    // The first signal finishes the sends in flight; the run then ends.
    onStart: ({ stop }) => onStopSignals(log, stop),
  });
  process.exit(summary.errors > 0 && summary.sent === 0 ? 1 : 0);
} catch (err) {
  log.fatal({ err: err instanceof Error ? err.message : String(err), code: isStreamcellError(err) ? err.code : undefined }, 'replay failed');
  process.exit(1);
}
