/**
 * The forecast topic, read once per gateway instance for the live feed.
 * Every instance must see every partition, so each joins a consumer group of
 * its own (a fresh id per process) starting at the end of the topic, and
 * never commits: the group holds no offsets and Kafka drops it once the
 * instance leaves. Forecasts that are not the JSON the worker writes are
 * skipped and counted, never passed on.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { IDEMPOTENCY_HEADER } from '@streamcell/protocol';
import { KafkaSource, type InboundMessage, type StreamsLogger } from '@streamcell/streams';
import type { LiveForecast } from './live.ts';

/** Settings of a {@link ForecastFeed}. */
export interface ForecastFeedOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly logger: StreamsLogger;
  readonly onForecast: (f: LiveForecast) => void;
  /** A message that is not a forecast (another producer on the topic). */
  readonly onSkipped?: (reason: string) => void;
  /** The consumer failed for good (kafkajs will not restart it). */
  readonly onFatal?: (err: Error) => void;
}

/**
 * Reads one forecast message into what the live feed needs, or returns why
 * it cannot: the stream id (the message key, else the `stream` field), the
 * event time and the model name, with the JSON re-serialised when it spans
 * lines (a server-sent event's data must be one line).
 */
export function toLiveForecast(msg: Pick<InboundMessage, 'topic' | 'partition' | 'offset' | 'key' | 'value' | 'headers'>): LiveForecast | string {
  if (msg.value === null || msg.value.length === 0) return 'no value';
  const text = msg.value.toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'not a JSON object';
  const f = body as { stream?: unknown; ts?: unknown; model?: { name?: unknown }; forecast?: unknown };
  const stream = msg.key !== null && msg.key.length > 0 ? msg.key.toString('utf8') : f.stream;
  if (typeof stream !== 'string' || stream === '') return 'no stream id';
  if (typeof f.ts !== 'number' || typeof f.model?.name !== 'string' || !Array.isArray(f.forecast)) return 'not a forecast message';
  return {
    stream,
    id: msg.headers[IDEMPOTENCY_HEADER] ?? `${msg.topic}/${msg.partition}/${msg.offset}`,
    data: text.includes('\n') || text.includes('\r') ? JSON.stringify(body) : text,
    model: f.model.name,
    ts: f.ts,
  };
}

/** The forecast topic's consumer for the live feed. */
export class ForecastFeed {
  readonly #o: ForecastFeedOptions;
  readonly #source: KafkaSource;
  readonly groupId: string;

  constructor(options: ForecastFeedOptions) {
    this.#o = options;
    this.groupId = `streamcell-gateway-live-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.#source = new KafkaSource({
      brokers: options.brokers,
      clientId: `streamcell-gateway-${hostname()}-${process.pid}`,
      groupId: this.groupId,
      topics: [options.topic],
      // Live means from now on; the hub's history covers what a subscriber missed.
      fromBeginning: false,
      partitionsConsumedConcurrently: 4,
      logger: options.logger,
      onCrash: (error, restarting) => {
        if (!restarting) options.onFatal?.(error);
      },
    });
  }

  /** True once the consumer holds partitions (joined its group). */
  get joined(): boolean {
    return this.#source.assignments().size > 0;
  }

  /** Joins and starts reading; resolves once the consumer runs. */
  start(): Promise<void> {
    return this.#source.start((batch) => {
      for (const msg of batch.messages) {
        const f = toLiveForecast(msg);
        if (typeof f === 'string') this.#o.onSkipped?.(f);
        else this.#o.onForecast(f);
      }
      // Nothing to commit: the live feed never resumes, it starts at the end.
      return Promise.resolve();
    });
  }

  /** Leaves the group and disconnects. */
  stop(): Promise<void> {
    return this.#source.stop();
  }
}
