/**
 * The replay loop: takes events from a source in send order, releases them
 * at the target rate (see pacer.ts) to a Sink keyed by stream id, counts what
 * Kafka acknowledged and what failed, and reports progress.
 *
 * Per-stream order: events leave the source in each stream's order, are
 * handed to the sink in that order, and the sink (KafkaSink: idempotent
 * producer, one request in flight, murmur2 partitioner) keeps the order of
 * a key's messages. Several sends may wait at once, so the loop never waits
 * for an ack before releasing what is due; at most one second of events (or
 * 1,000) is unacknowledged at a time, which bounds memory when Kafka slows.
 */
import type { OutboundMessage, Sink } from '@streamcell/streams';
import type { Logger, ReplayerMetrics } from '@streamcell/telemetry';
import { Pacer } from './pacer.ts';
import type { ProgressPrinter, ReplayProgress } from './progress.ts';
import type { EventSource, ReplayEvent } from './sources.ts';

/** What a replay does, beyond its source. */
export interface ReplaySettings {
  readonly topic: string;
  readonly rate: number;
  readonly loop: boolean;
  readonly limit: number | undefined;
  readonly durationMs: number | undefined;
  readonly timestamps: 'data' | 'now';
  /** Mark each stream's first event of the run with `reset`. */
  readonly reset: boolean;
  readonly eventModel: string | undefined;
}

/** What a replay is wired to. */
export interface ReplayerParts {
  readonly settings: ReplaySettings;
  readonly source: EventSource;
  readonly sink: Sink;
  readonly metrics: ReplayerMetrics;
  readonly log: Logger;
  readonly progress?: ProgressPrinter;
  readonly now?: () => number;
}

/** How a replay ended. */
export interface ReplaySummary {
  readonly sent: number;
  readonly errors: number;
  readonly elapsedMs: number;
  /** Acknowledged events per second over the whole run. */
  readonly rate: number;
  readonly passes: number;
  readonly streams: number;
  /** Why it stopped: the data ran out, the limit or duration was reached, or stop() was called. */
  readonly reason: 'end_of_data' | 'limit' | 'duration' | 'stopped';
}

/** Window of the "recent rate" in progress lines and the achieved-rate gauge. */
const RATE_WINDOW_MS = 10_000;

/** The JSON of one event, as the worker decodes it (packages/protocol event.ts). */
export function encodeEvent(e: ReplayEvent, ts: number, extra: { reset: boolean; model: string | undefined }): string {
  const body: Record<string, unknown> = { stream: e.stream, ts, values: e.values };
  if (extra.model !== undefined) body.model = extra.model;
  if (extra.reset) body.reset = true;
  return JSON.stringify(body);
}

/** One replay run. */
export class Replayer {
  readonly #p: ReplayerParts;
  readonly #now: () => number;
  #stopping = false;
  #wake: (() => void) | undefined;
  #sent = 0;
  #errors = 0;
  #inFlight = 0;
  #passes = 0;
  #start = 0;
  readonly #samples: { t: number; sent: number }[] = [];

  constructor(parts: ReplayerParts) {
    this.#p = parts;
    this.#now = parts.now ?? (() => performance.now());
  }

  /** Asks the loop to stop releasing events; {@link run} then resolves once the sends in flight are settled. */
  stop(): void {
    this.#stopping = true;
    this.#wake?.();
  }

  /** A snapshot for progress lines and tests. */
  progress(): ReplayProgress {
    const now = this.#now();
    const elapsedMs = Math.max(0, now - this.#start);
    return {
      elapsedMs,
      sent: this.#sent,
      errors: this.#errors,
      inFlight: this.#inFlight,
      targetRate: this.#p.settings.rate,
      recentRate: this.#recentRate(now),
      overallRate: elapsedMs > 0 ? (this.#sent * 1000) / elapsedMs : 0,
      pass: Math.max(1, this.#passes),
    };
  }

  /** Replays until the data, the limit or the duration runs out, or stop() is called. */
  async run(): Promise<ReplaySummary> {
    const { settings, source, metrics, log, progress } = this.#p;
    metrics.targetRate.set(settings.rate);
    this.#start = this.#now();
    this.#samples.push({ t: this.#start, sent: 0 });
    const pacer = new Pacer(settings.rate, this.#start);
    const maxInFlight = Math.max(1000, Math.ceil(settings.rate));
    const events = this.#events()[Symbol.iterator]();
    const pending = new Set<Promise<void>>();
    const seen = new Set<string>();
    let released = 0;
    let lastTs = Number.NEGATIVE_INFINITY;
    let lastTick = this.#start;
    let reason: ReplaySummary['reason'] = 'stopped';

    log.info({ source: source.description, topic: settings.topic, rate: settings.rate, loop: settings.loop, streams: source.streams.length }, 'replay starting');
    for (;;) {
      if (this.#stopping) break;
      const now = this.#now();
      if (settings.durationMs !== undefined && now - this.#start >= settings.durationMs) {
        reason = 'duration';
        break;
      }
      if (settings.limit !== undefined && released >= settings.limit) {
        reason = 'limit';
        break;
      }
      let n = Math.min(pacer.due(now, released), maxInFlight - this.#inFlight);
      if (settings.limit !== undefined) n = Math.min(n, settings.limit - released);
      const messages: OutboundMessage[] = [];
      let ended = false;
      for (let i = 0; i < n; i++) {
        const next = events.next();
        if (next.done === true) {
          ended = true;
          break;
        }
        const e = next.value;
        let ts = e.ts;
        if (settings.timestamps === 'now') {
          // Wall-clock time never goes back for a stream, even if the clock is stepped.
          lastTs = Math.max(lastTs, Date.now());
          ts = lastTs;
        }
        const first = settings.reset && !seen.has(e.stream);
        if (first) seen.add(e.stream);
        messages.push({ key: e.stream, value: encodeEvent(e, ts, { reset: first, model: settings.eventModel }) });
      }
      if (messages.length > 0) {
        released += messages.length;
        pending.add(this.#send(messages, pending));
      }
      if (ended) {
        reason = 'end_of_data';
        break;
      }
      if (now - lastTick >= (progress?.tickMs ?? 1000)) {
        lastTick = now;
        this.#tick(now);
      }
      const wait = this.#inFlight >= maxInFlight ? 5 : Math.min(50, Math.max(5, pacer.waitMs(this.#now(), released)));
      await this.#sleep(wait);
    }
    await Promise.allSettled([...pending]);
    const end = this.#now();
    this.#tick(end);
    const snapshot = this.progress();
    progress?.finish(snapshot);
    const elapsedMs = end - this.#start;
    const summary: ReplaySummary = {
      sent: this.#sent,
      errors: this.#errors,
      elapsedMs,
      rate: elapsedMs > 0 ? (this.#sent * 1000) / elapsedMs : 0,
      passes: this.#passes,
      streams: source.streams.length,
      reason,
    };
    log.info(summary, 'replay finished');
    return summary;
  }

  /** Every pass the settings allow, one after another. */
  *#events(): Iterable<ReplayEvent> {
    const { source, settings, metrics } = this.#p;
    for (let k = 0; ; k++) {
      this.#passes = k + 1;
      metrics.passes.inc();
      let any = false;
      for (const e of source.pass(k)) {
        any = true;
        yield e;
      }
      // An empty pass would spin forever under --loop.
      if (!settings.loop || !any) return;
      this.#p.log.info({ pass: k + 2 }, 'starting over (--loop)');
    }
  }

  #send(messages: OutboundMessage[], pending: Set<Promise<void>>): Promise<void> {
    const { sink, settings, metrics, log } = this.#p;
    const n = messages.length;
    this.#inFlight += n;
    const p = sink.send([{ topic: settings.topic, messages }]).then(
      () => {
        this.#sent += n;
        metrics.eventsSent.inc(n);
      },
      (err: unknown) => {
        this.#errors += n;
        metrics.sendErrors.inc(n);
        log.warn({ events: n, err: err instanceof Error ? err.message : String(err) }, 'send failed; events dropped');
      },
    );
    const settled = p.finally(() => {
      this.#inFlight -= n;
      pending.delete(settled);
    });
    return settled;
  }

  #tick(now: number): void {
    this.#samples.push({ t: now, sent: this.#sent });
    while (this.#samples.length > 2 && now - this.#samples[1]!.t >= RATE_WINDOW_MS) this.#samples.shift();
    this.#p.metrics.achievedRate.set(this.#recentRate(now));
    this.#p.progress?.update(this.progress(), now);
  }

  #recentRate(now: number): number {
    const from = this.#samples[0];
    if (from === undefined || now <= from.t) return 0;
    return ((this.#sent - from.sent) * 1000) / (now - from.t);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}
