/**
 * The worker service: `node services/worker/src/main.ts` (the image's start).
 * Configuration from the environment (see config.ts and the README); exits 2
 * on bad configuration, 1 when the worker fails, 0 after a clean drain.
 */
import { StreamcellError } from '@streamcell/protocol';
import { createLogger, redactUrl } from '@streamcell/telemetry';
import { describeConfig, loadConfig, type WorkerConfig } from './config.ts';
import { buildWorker } from './build.ts';

let config: WorkerConfig;
try {
  config = loadConfig(process.env);
} catch (err) {
  console.error(err instanceof StreamcellError ? err.message : String(err));
  process.exit(2);
}
const log = createLogger({ name: 'streamcell-worker', level: config.logLevel });
log.info({ config: describeConfig(config, redactUrl) }, 'starting');

try {
  const { worker, dispose } = await buildWorker(config, log, () => process.exit(1));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting without draining');
      process.exit(1);
    }
    log.info({ signal }, 'signal received');
    void worker.stop().then(() => {
      dispose();
      process.exit(0);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  await worker.start();
} catch (err) {
  log.fatal({ err: err instanceof Error ? err.message : String(err), code: (err as StreamcellError).code }, 'worker could not start');
  process.exit(1);
}
