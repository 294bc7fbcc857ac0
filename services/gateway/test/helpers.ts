/**
 * Wiring for the gateway's unit tests: the real app, models and live hub,
 * with an in-memory sink and state reader in place of Kafka and Redis (the
 * produce, Redis and live-feed paths have integration tests on the real
 * services).
 */
import { weatherOnlyModelsDir } from '../../../test/support/models.ts';
import type { FastifyInstance } from 'fastify';
import { SendWithdrawnError, isPacked, unpackMessages, type OutboundRecords, type SendOptions, type Sink, type SinkRecords } from '@streamcell/streams';
import { createGatewayMetrics, createLogger, type GatewayMetrics } from '@streamcell/telemetry';
import { buildApp } from '../src/app.ts';
import { loadConfig, type GatewayConfig } from '../src/config.ts';
import type { StateReader, StoredState } from '../src/latest.ts';
import { createLiveHub } from '../src/gateway.ts';
import type { LiveHub } from '../src/live.ts';
import { gatewayCatalog } from '../src/models.ts';

/** models/weather/1 alone (see test/support/models.ts): events in these tests name no model. */
export const MODELS_DIR = weatherOnlyModelsDir();

/** A weather event the repository's model takes. */
export function weatherEvent(stream: string, i = 0): Record<string, unknown> {
  return { stream, ts: 1_700_000_000_000 + i * 86_400_000, values: { precipitation: 0.5, temp_max: 12 + i, temp_min: 4 + i / 2, wind: 3.1 } };
}

/**
 * A sink that keeps what it was given; `fail` makes the next sends reject.
 * With `hold` set, sends wait in `held` until `releaseHeld()` (as a Kafka
 * producer's queue waits on a slow broker): one aborted while held is
 * withdrawn, like KafkaSink's; with `holdInFlight` too, they count as already
 * sent, so an abort changes nothing.
 */
export class MemorySink implements Sink {
  readonly sent: OutboundRecords[] = [];
  fail: Error | undefined;
  hold = false;
  holdInFlight = false;
  readonly held: { records: readonly OutboundRecords[]; resolve: () => void }[] = [];
  connect(): Promise<void> {
    return Promise.resolve();
  }
  send(sinkRecords: readonly SinkRecords[], options: SendOptions = {}): Promise<void> {
    const records = sinkRecords.map((r) => (isPacked(r) ? { topic: r.topic, messages: unpackMessages(r) } : r));
    if (this.fail) return Promise.reject(this.fail);
    if (!this.hold) {
      this.sent.push(...records);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const entry = { records, resolve };
      this.held.push(entry);
      if (!this.holdInFlight) {
        options.signal?.addEventListener('abort', () => {
          this.held.splice(this.held.indexOf(entry), 1);
          reject(new SendWithdrawnError());
        });
      }
    });
  }
  /** Lets every held send through. */
  releaseHeld(): void {
    for (const h of this.held.splice(0)) {
      this.sent.push(...h.records);
      h.resolve();
    }
  }
  disconnect(): Promise<void> {
    return Promise.resolve();
  }
  /** Messages produced, as key and parsed value. */
  messages(): { topic: string; key: string; value: Record<string, unknown> }[] {
    return this.sent.flatMap((r) => r.messages.map((m) => ({ topic: r.topic, key: String(m.key), value: JSON.parse(String(m.value)) as Record<string, unknown> })));
  }
}

/** A state reader over a map of keys to records. */
export class MapStateReader implements StateReader {
  readonly records = new Map<string, Buffer>();
  read(keys: readonly string[]): Promise<StoredState[]> {
    return Promise.resolve(keys.map((k) => ({ value: this.records.get(k) ?? null, ttlMs: -1 })));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The gateway's configuration for tests, with `env` on top of the defaults. */
export function testConfig(env: Record<string, string> = {}): GatewayConfig {
  return loadConfig({ KAFKA_BROKERS: '127.0.0.1:9', REDIS_URL: 'redis://127.0.0.1:9', MODELS_DIR, ...env });
}

/** An app over the repository's models, an in-memory sink and state. */
export async function appHarness(env: Record<string, string> = {}, onRoute?: (method: string, url: string) => void): Promise<{
  app: FastifyInstance;
  sink: MemorySink;
  state: MapStateReader;
  hub: LiveHub;
  metrics: GatewayMetrics;
  config: GatewayConfig;
}> {
  const config = testConfig(env);
  const log = createLogger({ name: 'test', level: 'silent' });
  const metrics = createGatewayMetrics({ defaultMetrics: false });
  const models = gatewayCatalog(config.modelsDir, log, metrics);
  await models.scan();
  const sink = new MemorySink();
  const state = new MapStateReader();
  const hub = createLiveHub({ liveRecentStreams: 100, liveHistory: 50, liveClientBuffer: 16, liveMaxClients: 10 }, metrics, log);
  const app = await buildApp({ config, models: () => models.snapshot(), sink, state, hub, metrics, log, healthy: () => true, ready: () => true, ...(onRoute ? { onRoute } : {}) });
  await app.ready();
  return { app, sink, state, hub, metrics, config };
}

/** The value of a counter with the given labels (0 when never incremented). */
export async function counter(metrics: GatewayMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}
