/**
 * What every service's main.ts does around its own work: refuse bad
 * configuration with exit code 2, and turn SIGTERM/SIGINT into one drain
 * (a second signal exits at once). The exit codes are part of each
 * service's contract: 2 bad configuration, 1 failure, 0 after a clean stop.
 */
import { isStreamcellError } from '@streamcell/protocol';
import type { Logger } from './logger.ts';

/** Exit status of a service that was given a bad configuration. */
export const EXIT_BAD_CONFIG = 2;

/**
 * Runs `load`; when it throws, prints the message (one line per bad
 * setting, as the settings reader words them) on stderr and exits 2.
 * `TypeError`s count as configuration errors too: node's argument parser
 * throws them for unknown or malformed flags.
 */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    console.error(isStreamcellError(err) || err instanceof TypeError ? err.message : String(err));
    return process.exit(EXIT_BAD_CONFIG);
  }
}

/**
 * Calls `drain` on the first SIGTERM or SIGINT; the drain decides when to
 * exit. A second signal means the operator will not wait: exit 1 at once.
 */
export function onStopSignals(log: Logger, drain: (signal: NodeJS.Signals) => void): void {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting without draining');
      process.exit(1);
    }
    log.info({ signal }, 'signal received');
    drain(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
