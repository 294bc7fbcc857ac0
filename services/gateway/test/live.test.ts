/** The live hub: backlog, fan-out by stream, bounded memory, and slow subscribers dropped without stalling others. */
import { describe, expect, it } from 'vitest';
import { LiveHub, type LiveForecast, type LiveOutput } from '../src/live.ts';

/** An output that accepts writes until `full` is set, like a socket whose buffer filled up. */
class FakeOutput implements LiveOutput {
  readonly chunks: string[] = [];
  full = false;
  ended = false;
  destroyed = false;
  #drain: (() => void) | undefined;
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return !this.full;
  }
  once(_event: 'drain', listener: () => void): this {
    this.#drain = listener;
    return this;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  drain(): void {
    this.full = false;
    const d = this.#drain;
    this.#drain = undefined;
    d?.();
  }
  /** Ids of the forecast events written so far. */
  ids(): string[] {
    return this.chunks.join('').split('\n\n').filter((b) => b.includes('event: forecast')).map((b) => /^id: (.*)$/m.exec(b)![1]!);
  }
}

function forecast(stream: string, n: number): LiveForecast {
  return { stream, id: `forecasts/0/${n}`, data: JSON.stringify({ stream, n }), model: 'weather', ts: 1000 + n };
}

function hub(overrides: Partial<ConstructorParameters<typeof LiveHub>[0]> = {}): LiveHub {
  return new LiveHub({ recentStreams: 10, history: 5, clientBuffer: 3, maxClients: 4, ...overrides });
}

describe('LiveHub', () => {
  it('sends a new subscriber the remembered forecasts of its stream, then each new one of that stream only', () => {
    const h = hub();
    for (let n = 0; n < 3; n++) h.publish(forecast('a', n));
    h.publish(forecast('b', 99));
    const out = new FakeOutput();
    h.subscribe('a', out);
    expect(out.chunks[0]).toMatch(/^retry: 2000\nevent: ready\ndata: \{"stream":"a","backlog":3\}/);
    h.publish(forecast('a', 3));
    h.publish(forecast('b', 100));
    expect(out.ids()).toEqual(['forecasts/0/0', 'forecasts/0/1', 'forecasts/0/2', 'forecasts/0/3']);
    expect(out.chunks.join('')).toContain(`data: ${JSON.stringify({ stream: 'a', n: 3 })}\n\n`);
  });

  it('resumes after Last-Event-ID and keeps only the last `history` forecasts of a stream', () => {
    const h = hub();
    for (let n = 0; n < 8; n++) h.publish(forecast('a', n));
    const fresh = new FakeOutput();
    h.subscribe('a', fresh);
    expect(fresh.ids()).toEqual(['forecasts/0/3', 'forecasts/0/4', 'forecasts/0/5', 'forecasts/0/6', 'forecasts/0/7']);
    const resumed = new FakeOutput();
    h.subscribe('a', resumed, 'forecasts/0/5');
    expect(resumed.ids()).toEqual(['forecasts/0/6', 'forecasts/0/7']);
  });

  it('drops a subscriber whose queue fills while the others keep receiving', () => {
    const dropped: string[] = [];
    const h = hub({ onDropped: (r) => dropped.push(r) });
    const slow = new FakeOutput();
    const fast = new FakeOutput();
    h.subscribe('a', slow);
    h.subscribe('a', fast);
    slow.full = true;
    // The first write finds the buffer full; three more fit the queue; the next one is one too many.
    for (let n = 0; n < 5; n++) h.publish(forecast('a', n));
    expect(slow.destroyed).toBe(true);
    expect(dropped).toEqual(['slow']);
    expect(h.clients).toBe(1);
    expect(fast.ids()).toHaveLength(5);
    h.publish(forecast('a', 5));
    expect(fast.ids()).toHaveLength(6);
  });

  it('delivers what it queued for a subscriber, in order, once its output drains', () => {
    const h = hub();
    const out = new FakeOutput();
    h.subscribe('a', out);
    out.full = true;
    for (let n = 0; n < 4; n++) h.publish(forecast('a', n));
    expect(out.ids()).toEqual(['forecasts/0/0']);
    out.drain();
    expect(out.ids()).toEqual(['forecasts/0/0', 'forecasts/0/1', 'forecasts/0/2', 'forecasts/0/3']);
    expect(out.ended).toBe(false);
  });

  it('remembers at most `recentStreams` streams, forgetting the least recently seen', () => {
    const h = hub({ recentStreams: 3 });
    for (const s of ['a', 'b', 'c', 'a', 'd']) h.publish(forecast(s, 1));
    expect(h.recent(10).map((r) => r.stream)).toEqual(['d', 'a', 'c']);
    expect(h.recent(10).find((r) => r.stream === 'a')!.forecasts).toBe(2);
    const late = new FakeOutput();
    h.subscribe('b', late);
    expect(late.ids()).toEqual([]);
  });

  it('refuses subscribers past maxClients and frees a slot when one leaves', () => {
    const h = hub({ maxClients: 2 });
    const first = h.subscribe('a', new FakeOutput());
    h.subscribe('b', new FakeOutput());
    expect(h.full).toBe(true);
    expect(() => h.subscribe('c', new FakeOutput())).toThrow(RangeError);
    first.close();
    expect(h.full).toBe(false);
    expect(h.clients).toBe(1);
  });

  it('ends every subscription on close', () => {
    const h = hub();
    const outs = [new FakeOutput(), new FakeOutput()];
    h.subscribe('a', outs[0]!);
    h.subscribe('b', outs[1]!);
    h.close();
    expect(outs.map((o) => o.ended)).toEqual([true, true]);
    expect(h.clients).toBe(0);
  });
});
