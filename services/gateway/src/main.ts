/**
 * The gateway service: `node services/gateway/src/main.ts` (the image's
 * start with SERVICE=gateway). Configuration from the environment (see
 * config.ts and the README); exits 2 on bad configuration, 1 when the
 * gateway fails, 0 after a clean drain.
 */
import type { StreamcellError } from '@streamcell/protocol';
import { createLogger, loadOrExit, onStopSignals, redactUrl } from '@streamcell/telemetry';
import { describeConfig, loadConfig } from './config.ts';
import { Gateway } from './gateway.ts';

const config = loadOrExit(() => loadConfig(process.env));
const log = createLogger({ name: 'streamcell-gateway', level: config.logLevel });
log.info({ config: describeConfig(config, redactUrl) }, 'starting');

try {
  const gateway = await Gateway.create(config, log, () => process.exit(1));
  onStopSignals(log, () => void gateway.stop().then(() => process.exit(0)));
  await gateway.start();
} catch (err) {
  log.fatal({ err: err instanceof Error ? err.message : String(err), code: (err as StreamcellError).code }, 'gateway could not start');
  process.exit(1);
}
