/**
 * The explorer page's script (public/explorer.js) run in a bare VM context
 * with a stand-in DOM, fetch and timers: the bookkeeping that a browser test
 * cannot see. (The page in a real browser on the real stack:
 * explorer.int.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createContext, runInContext, type Context } from 'node:vm';
import { describe, expect, it } from 'vitest';

const SCRIPT = readFileSync(fileURLToPath(new URL('../public/explorer.js', import.meta.url)), 'utf8');

/** Just enough of a DOM element for the script. */
class FakeElement {
  readonly dataset: Record<string, string> = {};
  readonly style: Record<string, string> = {};
  readonly attributes: Record<string, string> = {};
  readonly listeners = new Map<string, ((e: unknown) => void)[]>();
  readonly classList = { add: (): void => undefined, toggle: (): void => undefined };
  children: FakeElement[] = [];
  textContent = '';
  value = '';
  hidden = false;
  open = false;
  setAttribute(k: string, v: string): void {
    this.attributes[k] = v;
  }
  addEventListener(type: string, fn: (e: unknown) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  dispatch(type: string): void {
    for (const fn of this.listeners.get(type) ?? []) fn({ preventDefault: () => undefined });
  }
  append(...nodes: FakeElement[]): void {
    this.children.push(...nodes);
  }
  prepend(...nodes: FakeElement[]): void {
    this.children.unshift(...nodes);
  }
  replaceChildren(...nodes: FakeElement[]): void {
    this.children = [...nodes];
  }
}

interface PendingFetch {
  url: string;
  reply: (body: unknown) => Promise<void>;
}

/** Loads the script with a stand-in page; timers and fetch replies are driven by the test. */
function loadPage(): {
  ctx: Context;
  el: (id: string) => FakeElement;
  fetches: PendingFetch[];
  runTimers: () => void;
  evaluate: <T>(code: string) => T;
  addForecast: (msg: Record<string, unknown>, id: string) => void;
} {
  const byId = new Map<string, FakeElement>();
  const el = (id: string): FakeElement => {
    let e = byId.get(id);
    if (!e) byId.set(id, (e = new FakeElement()));
    return e;
  };
  const fetches: PendingFetch[] = [];
  const timers = new Map<number, () => void>();
  let nextTimer = 0;
  const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const ctx = createContext({
    document: {
      getElementById: el,
      createElement: () => new FakeElement(),
      createElementNS: () => new FakeElement(),
      createTextNode: (text: string) => Object.assign(new FakeElement(), { textContent: text }),
    },
    window: { location: { hash: '' }, requestAnimationFrame: () => 0 },
    localStorage: { getItem: () => null, setItem: () => undefined },
    fetch: (url: string) =>
      new Promise((resolve) => {
        fetches.push({
          url,
          reply: async (body: unknown) => {
            resolve({ ok: true, status: 200, json: () => Promise.resolve(body) });
            await flush();
          },
        });
      }),
    setTimeout: (fn: () => void) => {
      timers.set(++nextTimer, fn);
      return nextTimer;
    },
    clearTimeout: (id: number) => timers.delete(id),
    setInterval: () => 0,
    TextDecoder,
    AbortController,
    URLSearchParams,
  });
  runInContext(SCRIPT, ctx);
  return {
    ctx,
    el,
    fetches,
    runTimers: () => {
      const due = [...timers.values()];
      timers.clear();
      for (const fn of due) fn();
    },
    // Top-level `const`s of a script are visible to later scripts in the same context.
    evaluate: <T>(code: string) => runInContext(code, ctx) as T,
    // Top-level functions of a script are properties of its global object.
    addForecast: (msg, id) => (ctx.addForecast as (msg: Record<string, unknown>, id: string) => void)(msg, id),
  };
}

function forecast(i: number, model = { name: 'weather', version: '1' }): Record<string, unknown> {
  return { model, ts: 1_700_000_000_000 + i * 1000, forecast: [{ t: i }], error: { t: 0.5 }, source: { topic: 'events', partition: 0, offset: String(i) } };
}

const recentStreams = (page: ReturnType<typeof loadPage>): string[] => page.el('recent').children.map((li) => li.attributes['data-stream']!);

describe('explorer page script', () => {
  it('keeps forecast ids for the points it holds only, and still drops a repeat of a held one', () => {
    const page = loadPage();
    page.evaluate('openStream("s")');
    for (let i = 0; i < 1000; i++) page.addForecast(forecast(i), `f/0/${i}`);
    expect(page.evaluate<number>('state.points.length')).toBe(150);
    expect(page.evaluate<number>('state.ids.size')).toBe(150);
    expect(page.evaluate<boolean>('state.points.every((p) => state.ids.has(p.id))')).toBe(true);
    page.addForecast(forecast(999), 'f/0/999');
    expect(page.evaluate<number>('state.points.length')).toBe(150);
    expect(page.evaluate<number>('state.points.at(-1).ts')).toBe(1_700_000_000_000 + 999 * 1000);
    // A new model version starts the chart over, ids with it.
    page.addForecast(forecast(1000, { name: 'weather', version: '2' }), 'f/0/1000');
    expect(page.evaluate<number>('state.points.length')).toBe(1);
    expect(page.evaluate<number>('state.ids.size')).toBe(1);
  });

  it('asks for the recent streams once typing pauses, not on every keystroke', async () => {
    const page = loadPage();
    for (const f of page.fetches.splice(0)) await f.reply({ models: [], streams: [] });
    for (const text of ['s', 'se', 'sea', 'seat']) {
      page.el('search').value = text;
      page.el('search').dispatch('input');
    }
    expect(page.fetches).toEqual([]);
    page.runTimers();
    expect(page.fetches.map((f) => f.url)).toEqual(['/v1/streams?limit=60&q=seat']);
  });

  it('never shows a reply that is older than the one shown or for a search since changed', async () => {
    const page = loadPage();
    for (const f of page.fetches.splice(0)) await f.reply({ models: [], streams: [] });
    const type = (text: string): void => {
      page.el('search').value = text;
      page.el('search').dispatch('input');
      page.runTimers();
    };
    type('a');
    type('ab');
    const [forA, forAb] = page.fetches.splice(0);
    expect([forA?.url, forAb?.url]).toEqual(['/v1/streams?limit=60&q=a', '/v1/streams?limit=60&q=ab']);
    await forAb!.reply({ streams: [{ stream: 'ab-1', model: 'weather', receivedAt: 0 }] });
    expect(recentStreams(page)).toEqual(['ab-1']);
    await forA!.reply({ streams: [{ stream: 'a-1', model: 'weather', receivedAt: 0 }, { stream: 'ab-1', model: 'weather', receivedAt: 0 }] });
    expect(recentStreams(page)).toEqual(['ab-1']);

    // Two requests for the same search answered out of order: the newer reply stays.
    page.evaluate('void refreshRecent()');
    page.evaluate('void refreshRecent()');
    const [older, newer] = page.fetches.splice(0);
    await newer!.reply({ streams: [{ stream: 'ab-2', model: 'weather', receivedAt: 0 }] });
    await older!.reply({ streams: [{ stream: 'ab-1', model: 'weather', receivedAt: 0 }] });
    expect(recentStreams(page)).toEqual(['ab-2']);
  });
});
