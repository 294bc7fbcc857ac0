/**
 * The live feed's fan-out: forecasts read once from the forecast topic (one
 * consumer per gateway instance) go to every subscriber of their stream.
 *
 * Everything is bounded. The hub remembers the most recently seen streams
 * (an LRU of `recentStreams`), each with its last `history` forecasts, which
 * a new subscriber gets first so that its chart is not empty. Each
 * subscriber has its own queue of at most `clientBuffer` messages: a client
 * that reads slower than forecasts arrive is dropped (it may reconnect)
 * rather than holding memory or slowing anyone else down. Nothing here waits
 * on a client.
 */

/** One forecast as the feed hands it on. */
export interface LiveForecast {
  readonly stream: string;
  /** The forecast's idempotency key (topic/partition/offset); the SSE event id. */
  readonly id: string;
  /** The forecast message's JSON, one line. */
  readonly data: string;
  readonly model: string;
  /** Event time of the forecast's source event, epoch ms. */
  readonly ts: number;
}

/** What a subscriber writes to: an HTTP response, in practice. */
export interface LiveOutput {
  /** Returns false when the output's own buffer is full (then wait for `drain`). */
  write(chunk: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
  /** Ends the response after what is buffered (shutdown). */
  end(): void;
  /** Closes the connection now, dropping what is buffered (a stuck client would never read it). */
  destroy(): void;
}

/** A stream the feed has seen lately. */
export interface RecentStream {
  readonly stream: string;
  readonly model: string;
  /** Event time of its last forecast. */
  readonly ts: number;
  /** When the gateway received that forecast, epoch ms. */
  readonly receivedAt: number;
  /** Forecasts seen since the gateway started remembering it. */
  readonly forecasts: number;
}

/** Limits of a {@link LiveHub}. */
export interface LiveHubOptions {
  readonly recentStreams: number;
  readonly history: number;
  readonly clientBuffer: number;
  readonly maxClients: number;
  /** Observers for metrics; all optional. */
  readonly onSent?: (messages: number) => void;
  readonly onDropped?: (reason: 'slow' | 'shutdown') => void;
  readonly onClients?: (clients: number) => void;
  readonly onStreams?: (streams: number) => void;
  readonly now?: () => number;
}

interface StreamEntry {
  readonly history: LiveForecast[];
  model: string;
  ts: number;
  receivedAt: number;
  forecasts: number;
}

/** Formats one server-sent event. Data must be one line (JSON from JSON.stringify is). */
export function sseEvent(event: string, data: string, id?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;
}

/** One connected subscriber with its bounded queue. */
class Subscriber {
  readonly stream: string;
  readonly #out: LiveOutput;
  readonly #limit: number;
  readonly #queue: string[] = [];
  #blocked = false;
  #closed = false;
  readonly #onDrop: (reason: 'slow' | 'shutdown') => void;

  constructor(stream: string, out: LiveOutput, limit: number, onDrop: (reason: 'slow' | 'shutdown') => void) {
    this.stream = stream;
    this.#out = out;
    this.#limit = limit;
    this.#onDrop = onDrop;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues or writes one chunk; returns false when the subscriber was
   * dropped for it. `unbounded` skips the limit (the backlog on connect: a
   * single chunk the client asked for, not a sign of slowness).
   */
  push(chunk: string, unbounded = false): boolean {
    if (this.#closed) return false;
    if (this.#blocked) {
      if (!unbounded && this.#queue.length >= this.#limit) {
        this.drop('slow');
        return false;
      }
      this.#queue.push(chunk);
      return true;
    }
    if (!this.#out.write(chunk)) {
      this.#blocked = true;
      this.#out.once('drain', () => this.#flush());
    }
    return true;
  }

  #flush(): void {
    this.#blocked = false;
    while (!this.#closed && this.#queue.length > 0) {
      const chunk = this.#queue.shift()!;
      if (!this.#out.write(chunk)) {
        this.#blocked = true;
        this.#out.once('drain', () => this.#flush());
        return;
      }
    }
  }

  /** Ends the output; the subscriber is gone. */
  drop(reason: 'slow' | 'shutdown'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.length = 0;
    this.#onDrop(reason);
    // A slow client's socket is full: a graceful end would wait behind data it never reads.
    if (reason === 'slow') this.#out.destroy();
    else this.#out.end();
  }

  /** Marks it closed without writing (the client went away). */
  forget(): void {
    this.#closed = true;
    this.#queue.length = 0;
  }
}

/** A subscription handle. */
export interface LiveSubscription {
  /** Call when the client disconnects. */
  close(): void;
}

/** Fans forecasts out to subscribers; see the file comment. */
export class LiveHub {
  readonly #o: LiveHubOptions;
  readonly #now: () => number;
  /** Insertion order is recency: a stream is re-inserted on every forecast. */
  readonly #streams = new Map<string, StreamEntry>();
  readonly #subscribers = new Map<string, Set<Subscriber>>();
  #clients = 0;

  constructor(options: LiveHubOptions) {
    for (const k of ['recentStreams', 'history', 'clientBuffer', 'maxClients'] as const) {
      if (!Number.isInteger(options[k]) || options[k] < 1) throw new RangeError(`LiveHub ${k} must be a positive integer, got ${options[k]}`);
    }
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** Subscribers connected now. */
  get clients(): number {
    return this.#clients;
  }

  /** Takes in one forecast: remembers it and writes it to the stream's subscribers. */
  publish(f: LiveForecast): void {
    let entry = this.#streams.get(f.stream);
    if (entry) this.#streams.delete(f.stream);
    else entry = { history: [], model: f.model, ts: f.ts, receivedAt: 0, forecasts: 0 };
    entry.model = f.model;
    entry.ts = f.ts;
    entry.receivedAt = this.#now();
    entry.forecasts += 1;
    entry.history.push(f);
    if (entry.history.length > this.#o.history) entry.history.splice(0, entry.history.length - this.#o.history);
    this.#streams.set(f.stream, entry);
    if (this.#streams.size > this.#o.recentStreams) {
      // The first key is the least recently seen stream.
      const oldest = this.#streams.keys().next().value;
      if (oldest !== undefined) this.#streams.delete(oldest);
    }
    this.#o.onStreams?.(this.#streams.size);

    const subs = this.#subscribers.get(f.stream);
    if (!subs) return;
    const chunk = sseEvent('forecast', f.data, f.id);
    let sent = 0;
    for (const s of subs) if (s.push(chunk)) sent += 1;
    if (sent > 0) this.#o.onSent?.(sent);
  }

  /** True when `maxClients` subscribers are connected: refuse the next one. */
  get full(): boolean {
    return this.#clients >= this.#o.maxClients;
  }

  /**
   * Subscribes `out` to a stream's forecasts: first the remembered ones
   * after `lastEventId` (all of them without it), then each new one. The
   * caller checks {@link LiveHub.full} first; past it this throws.
   */
  subscribe(stream: string, out: LiveOutput, lastEventId?: string): LiveSubscription {
    if (this.full) throw new RangeError(`the live hub already has ${this.#o.maxClients} subscribers`);
    const sub = new Subscriber(stream, out, this.#o.clientBuffer, (reason) => {
      this.#remove(sub);
      this.#o.onDropped?.(reason);
    });
    let set = this.#subscribers.get(stream);
    if (!set) {
      set = new Set();
      this.#subscribers.set(stream, set);
    }
    set.add(sub);
    this.#clients += 1;
    this.#o.onClients?.(this.#clients);

    const history = this.#streams.get(stream)?.history ?? [];
    const after = lastEventId === undefined ? -1 : history.findIndex((f) => f.id === lastEventId);
    const backlog = history.slice(after + 1).map((f) => sseEvent('forecast', f.data, f.id)).join('');
    sub.push(`retry: 2000\n${sseEvent('ready', JSON.stringify({ stream, backlog: history.length - (after + 1) }))}${backlog}`, true);
    if (backlog.length > 0) this.#o.onSent?.(history.length - (after + 1));
    return {
      close: () => {
        if (sub.closed) return;
        sub.forget();
        this.#remove(sub);
      },
    };
  }

  /** Writes a keep-alive comment to every subscriber (idle proxies close silent connections). */
  keepalive(): void {
    for (const set of this.#subscribers.values()) for (const s of set) s.push(': keepalive\n\n');
  }

  /**
   * Streams seen lately, most recent first; `query` keeps those whose id
   * contains it (case-insensitive).
   */
  recent(limit: number, query?: string): RecentStream[] {
    const q = query?.toLowerCase();
    const out: RecentStream[] = [];
    const entries = [...this.#streams.entries()];
    for (let i = entries.length - 1; i >= 0 && out.length < limit; i--) {
      const [stream, e] = entries[i]!;
      if (q !== undefined && q !== '' && !stream.toLowerCase().includes(q)) continue;
      out.push({ stream, model: e.model, ts: e.ts, receivedAt: e.receivedAt, forecasts: e.forecasts });
    }
    return out;
  }

  /** Ends every subscription (shutdown). */
  close(): void {
    for (const set of [...this.#subscribers.values()]) for (const s of [...set]) s.drop('shutdown');
  }

  #remove(sub: Subscriber): void {
    const set = this.#subscribers.get(sub.stream);
    if (!set?.delete(sub)) return;
    if (set.size === 0) this.#subscribers.delete(sub.stream);
    this.#clients -= 1;
    this.#o.onClients?.(this.#clients);
  }
}
