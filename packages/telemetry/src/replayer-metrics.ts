import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric the replayer exports, `streamcell_replayer_*`. No labels: one
 * replayer process feeds one topic from one source, so a label would only
 * repeat what the scrape target already says.
 */
export interface ReplayerMetrics {
  readonly registry: Registry;
  /** Events Kafka acknowledged. */
  readonly eventsSent: Counter;
  /** Events whose send failed for good (after the producer's retries). */
  readonly sendErrors: Counter;
  /** The rate asked for, events/s. */
  readonly targetRate: Gauge;
  /** Acknowledged events per second over the last progress window. */
  readonly achievedRate: Gauge;
  /** Passes over the data that have begun (1 without --loop). */
  readonly passes: Counter;
}

/** Registers the replayer's metrics (and Node's process metrics) on a fresh registry. */
export function createReplayerMetrics(options: { defaultMetrics?: boolean } = {}): ReplayerMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'streamcell_replayer_' });
  const registers = [registry];
  return {
    registry,
    eventsSent: new Counter({ name: 'streamcell_replayer_events_sent_total', help: 'Events sent and acknowledged by Kafka', registers }),
    sendErrors: new Counter({ name: 'streamcell_replayer_send_errors_total', help: 'Events whose send failed after the producer retries (dropped)', registers }),
    targetRate: new Gauge({ name: 'streamcell_replayer_target_events_per_second', help: 'Requested send rate', registers }),
    achievedRate: new Gauge({ name: 'streamcell_replayer_achieved_events_per_second', help: 'Acknowledged events per second over the last progress window', registers }),
    passes: new Counter({ name: 'streamcell_replayer_passes_total', help: 'Passes over the data begun (more than 1 with --loop)', registers }),
  };
}
