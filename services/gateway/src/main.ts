/**
 * The gateway service: `node services/gateway/src/main.ts` (the image's
 * start with SERVICE=gateway). Configuration from the environment (see
 * config.ts and the README); exits 2 on bad configuration, 1 when the
 * gateway fails, 0 after a clean drain.
 */
import { StreamcellError } from '@streamcell/protocol';
import { createLogger, redactUrl } from '@streamcell/telemetry';
import { describeConfig, loadConfig, type GatewayConfig } from './config.ts';
import { Gateway } from './gateway.ts';

let config: GatewayConfig;
try {
  config = loadConfig(process.env);
} catch (err) {
  console.error(err instanceof StreamcellError ? err.message : String(err));
  process.exit(2);
}
const log = createLogger({ name: 'streamcell-gateway', level: config.logLevel });
log.info({ config: describeConfig(config, redactUrl) }, 'starting');

try {
  const gateway = await Gateway.create(config, log, () => process.exit(1));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting without draining');
      process.exit(1);
    }
    log.info({ signal }, 'signal received');
    void gateway.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  await gateway.start();
} catch (err) {
  log.fatal({ err: err instanceof Error ? err.message : String(err), code: (err as StreamcellError).code }, 'gateway could not start');
  process.exit(1);
}
