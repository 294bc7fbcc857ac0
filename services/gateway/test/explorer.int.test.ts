/**
 * The forecast explorer page in a real browser (Debian's Chromium, driven by
 * playwright-core; never a downloaded browser) against a real gateway and
 * worker on Kafka and Redis: the page loads, the user picks a stream, and
 * the points that arrive over the live feed appear on the chart. A
 * screenshot is kept in test-results/explorer.png.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { REPO_ROOT, TOKEN, seattleWeather, startStack, type Stack } from './support/stack.ts';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = join(REPO_ROOT, 'test-results', 'explorer.png');

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`the explorer test drives Debian's Chromium at ${CHROMIUM}: apt-get install chromium (no browser is ever downloaded)`);
  stack = await startStack();
  // --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function post(events: unknown[]): Promise<void> {
  const res = await stack.api('/v1/events', { method: 'POST', body: JSON.stringify(events) });
  expect(res.status).toBe(202);
}

describe('forecast explorer page', () => {
  it('shows the points of a chosen stream that arrive over the live feed', async () => {
    const stream = 'seattle-explorer';
    const days = await seattleWeather(stream, 90, 400);
    // A few forecasts before the page opens, so the stream is listed among the recent ones.
    await post(days.slice(0, 30));
    await post(await seattleWeather('other-stream', 5));

    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.addInitScript((token) => localStorage.setItem('streamcell-token', token), TOKEN);
    await page.goto(stack.baseUrl);
    await expect.poll(() => page.locator('#models').textContent(), { timeout: 30_000 }).toContain('weather v1');

    // The stream shows up in the recent list; the user finds it with the search box and opens it.
    await expect.poll(() => page.locator('#recent li').allTextContents(), { timeout: 30_000 }).toEqual(expect.arrayContaining([expect.stringContaining(stream)]));
    await page.fill('#search', stream);
    await page.press('#search', 'Enter');
    await expect.poll(() => page.locator('#conn').getAttribute('data-state'), { timeout: 30_000 }).toBe('live');
    await expect.poll(() => page.locator('#stream-title').textContent()).toBe(stream);

    // The backlog (the 30 forecasts already made) is drawn: 3 horizon steps per forecast, per target.
    const forecastPoints = (): Promise<number> => page.locator('.chart[data-target="temp_max"] circle.pt-forecast').count();
    await expect.poll(forecastPoints, { timeout: 30_000 }).toBe(30 * 3);

    // New events: their forecasts arrive over the live feed and appear as they come.
    await post(days.slice(30));
    await expect.poll(forecastPoints, { timeout: 60_000 }).toBe(90 * 3);
    await expect.poll(() => page.locator('#charts').getAttribute('data-points')).toBe('90');
    // Every event after the first has its actual value drawn (rebuilt from the forecast errors).
    expect(await page.locator('.chart[data-target="temp_min"] circle.pt-actual').count()).toBe(89);
    // Each horizon step is its own series, and the latest forecast is drawn as a fan.
    for (const step of [1, 2, 3]) expect(await page.locator(`.chart[data-target="temp_max"] g.step-${step} circle`).count()).toBe(90);
    expect(await page.locator('.chart[data-target="temp_max"] circle.pt-latest').count()).toBe(3);
    await expect.poll(() => page.locator('#model-badge').textContent()).toBe('weather v1');
    // The online error against persistence, with as many scored events as there are pairs of actuals.
    const cards = await page.locator('.card').allTextContents();
    expect(cards.some((c) => c.startsWith('temp_max · skill vs naive') && c.includes('n=88'))).toBe(true);
    expect(await page.locator('#latest-table tr').count()).toBe(4);
    expect(errors).toEqual([]);

    mkdirSync(join(REPO_ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.close();
  });
});
