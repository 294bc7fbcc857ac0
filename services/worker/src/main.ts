/**
 * The worker service: `node services/worker/src/main.ts` (the image's start).
 * Configuration from the environment (see config.ts and the README); exits 2
 * on bad configuration, 1 when the worker fails, 0 after a clean drain.
 */
import type { StreamcellError } from '@streamcell/protocol';
import { createLogger, loadOrExit, onStopSignals, redactUrl } from '@streamcell/telemetry';
import { describeConfig, loadConfig } from './config.ts';
import { buildWorker } from './build.ts';

const config = loadOrExit(() => loadConfig(process.env));
const log = createLogger({ name: 'streamcell-worker', level: config.logLevel });
log.info({ config: describeConfig(config, redactUrl) }, 'starting');

try {
  const { worker, dispose } = await buildWorker(config, log, () => process.exit(1));
  onStopSignals(log, () => {
    void worker.stop().then(() => {
      dispose();
      process.exit(0);
    });
  });
  await worker.start();
} catch (err) {
  log.fatal({ err: err instanceof Error ? err.message : String(err), code: (err as StreamcellError).code }, 'worker could not start');
  process.exit(1);
}
