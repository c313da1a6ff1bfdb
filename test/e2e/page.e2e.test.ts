/**
 * The collector's page at `/` in real headless Chromium (playwright-core, the system's /usr/bin/chromium):
 * a collector fed reports from two fake instances over HTTP, one of them stale; the page must show the
 * secret, both fingerprints with their instance counts, mark the stale instance, and update by itself
 * after a new report. A screenshot goes to the temp dir and to .scratch/collector.png.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCollector, startCollectorServer, type CollectorServer } from '../../src/collector/index.js';
import { fingerprint } from '../../src/index.js';

const root = resolve(import.meta.dirname, '../..');
const CHROMIUM = process.env.KEYFLIP_CHROMIUM ?? '/usr/bin/chromium';
const TOKEN = 'page-e2e-token-4c1f0a';
const VALUES = {
  old: 'sk-page-e2e-OLD-1111111111111111',
  new: 'sk-page-e2e-NEW-2222222222222222',
  db: 'pw-page-e2e-3333',
};
const FP = { old: fingerprint(VALUES.old), new: fingerprint(VALUES.new), db: fingerprint(VALUES.db) };
/** Rendered as text, never as HTML: if it ran, window.__xss would be set. */
const HOSTILE = '<img src=x onerror="window.__xss=1">';

/**
 * The little of the DOM these page functions use (this file is type-checked without the DOM library; the
 * functions run in the page, where a string expression would be refused by the page's CSP, rightly).
 */
type Dom = { document: { querySelector(selector: string): { getAttribute(name: string): string | null } | null } };

/**
 * The text a reader sees in an element: Playwright's `innerText()` (rendered text; hidden parts left out).
 */
// biome-ignore lint/performance/useDomNodeTextContent: a Playwright locator, not a DOM node; rendered text is asserted
const shown = (locator: Locator): Promise<string> => locator.innerText();

let server: CollectorServer;
let browser: Browser;
let page: Page;
/** The collector's clock: real time plus an offset the test moves, so staleness does not wait on the wall clock. */
let offset = -10 * 60_000;
const requests: string[] = [];
const consoleLines: string[] = [];

interface Held {
  name: string;
  fp: string;
  version: string;
  uses: number;
}

async function post(
  id: string,
  service: string,
  host: string,
  pid: number,
  held: Held[],
  environment?: string,
): Promise<void> {
  const body = {
    schema: 'keyflip.beacon/v1',
    sentAt: Date.now() + offset,
    service,
    ...(environment === undefined ? {} : { environment }),
    instance: { id, host, pid, startedAt: Date.now() - 3_600_000, runtime: 'node v20.20.2', keyflip: '0.1.0' },
    secrets: held.map((h) => ({
      name: h.name,
      candidate: `${h.name}_v${h.version}`,
      source: 'gcp',
      version: h.version,
      fingerprint: h.fp,
      loadedAt: Date.now() - 600_000,
      uses: h.uses,
      status: 'ok',
    })),
  };
  const res = await fetch(`${server.url}/v1/beacons`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(204);
}

const live = (uses: number): Promise<void> =>
  post(
    'checkout-7f9c',
    'checkout-api',
    'web-1',
    4242,
    [
      { name: 'OPENAI_API_KEY', fp: FP.new, version: '2', uses },
      { name: 'DATABASE_URL', fp: FP.db, version: '5', uses: uses * 3 },
    ],
    'prod',
  );
const stale = (fp: string, version: string, uses: number): Promise<void> =>
  post('billing-2b1d', 'billing-worker', 'web-2', 5151, [{ name: 'OPENAI_API_KEY', fp, version, uses }], HOSTILE);

beforeAll(async () => {
  server = await startCollectorServer({
    token: TOKEN,
    collector: createCollector({ clock: { now: () => Date.now() + offset } }),
  });
  // Both report every 30 s for a while; then billing-worker goes silent for 2 min (> 2 × 30 s): stale.
  for (let i = 0; i < 4; i++) {
    await live(20 + i);
    await stale(FP.old, '1', 7);
    offset += 30_000;
  }
  for (let i = 0; i < 4; i++) {
    await live(10);
    offset += 30_000;
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  page.on('request', (r) =>
    requests.push(`${r.method()} ${r.url()} ${r.headers().authorization === `Bearer ${TOKEN}` ? 'auth' : 'no-auth'}`),
  );
  page.on('console', (m) => consoleLines.push(m.text()));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function shot(name: string): Promise<string> {
  const file = join(tmpdir(), `keyflip-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  mkdirSync(join(root, '.scratch'), { recursive: true });
  copyFileSync(file, join(root, '.scratch', `${name}.png`));
  return file;
}

describe('the collector page in headless Chromium', () => {
  it('shows per secret the fingerprints in use and by how many instances, and marks the stale instance', async () => {
    await page.goto(`${server.url}/#token=${TOKEN}`);
    const card = page.locator('[data-secret="OPENAI_API_KEY"]');
    await card.waitFor({ timeout: 15_000 });

    // The token left the address bar (kept in sessionStorage), and every data request carried it.
    expect(page.url()).toBe(`${server.url}/`);
    await expect
      .poll(() => requests.filter((r) => r.includes('/v1/usage?secret=OPENAI_API_KEY')).length)
      .toBeGreaterThan(0);

    const fresh = card.locator(`tr[data-fingerprint="${FP.new}"]`);
    const old = card.locator(`tr[data-fingerprint="${FP.old}"]`);
    expect(await card.locator('h3').textContent()).toBe('OPENAI_API_KEY');
    expect(await fresh.getAttribute('data-instances')).toBe('1');
    expect(await old.getAttribute('data-instances')).toBe('1');
    expect(await old.getAttribute('data-stale')).toBe('1');
    expect(await old.getAttribute('data-held-now')).toBe('1');
    expect(await shown(fresh)).toContain(FP.new);
    expect(await shown(fresh)).toContain('1 instance');
    expect(await shown(old)).toContain('1 stale');
    expect(await shown(card)).toContain('2 keys in use');
    expect(await shown(card)).toContain('2 instances reported it in the last 1h');
    expect(await shown(page.locator('[data-secret="DATABASE_URL"]'))).toContain('1 key in use');

    const staleRow = page.locator('tr[data-instance="billing-2b1d"]');
    const liveRow = page.locator('tr[data-instance="checkout-7f9c"]');
    expect(await staleRow.getAttribute('data-stale')).toBe('true');
    expect(await liveRow.getAttribute('data-stale')).toBe('false');
    expect(await shown(staleRow)).toMatch(/stale[\s\S]*billing-worker[\s\S]*web-2[\s\S]*pid 5151/);
    expect(await shown(liveRow)).toMatch(/live[\s\S]*checkout-api/);
    expect(await page.locator('[data-stale-count]').getAttribute('data-stale-count')).toBe('1');

    // What came from a report is text: the hostile environment is shown, not run.
    expect(await shown(staleRow)).toContain(HOSTILE);
    expect(await page.evaluate('typeof window.__xss')).toBe('undefined');

    await shot('collector');
  });

  it('updates by itself after a new report: the stale instance rotates and comes back', async () => {
    const before = requests.length;
    await stale(FP.new, '2', 4);
    const fresh = page.locator(`[data-secret="OPENAI_API_KEY"] tr[data-fingerprint="${FP.new}"]`);
    await page.waitForFunction(
      (fp) =>
        (globalThis as unknown as Dom).document
          .querySelector(`[data-secret="OPENAI_API_KEY"] tr[data-fingerprint="${fp}"]`)
          ?.getAttribute('data-instances') === '2',
      FP.new,
      { timeout: 15_000, polling: 200 },
    );
    expect(await shown(fresh)).toContain('2 instances');
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Dom).document
          .querySelector('tr[data-instance="billing-2b1d"]')
          ?.getAttribute('data-stale') === 'false',
      undefined,
      { timeout: 15_000 },
    );
    // It still held the old key within the window: that row stays, no longer stale.
    const old = page.locator(`[data-secret="OPENAI_API_KEY"] tr[data-fingerprint="${FP.old}"]`);
    expect(await old.getAttribute('data-stale')).toBe('0');
    expect(await old.getAttribute('data-held-now')).toBe('0');
    expect(await shown(old)).toContain('not held any more');
    expect(requests.length).toBeGreaterThan(before);
    await shot('collector-updated');
  });

  it('every request went to the collector, the token on data routes; nothing logged; no value anywhere', async () => {
    const origin = server.url;
    expect(requests.every((r) => r.split(' ')[1]?.startsWith(origin))).toBe(true);
    expect(requests.filter((r) => r.includes('/v1/') && r.endsWith('no-auth'))).toEqual([]);
    expect(consoleLines).toEqual([]);
    const html = await page.content();
    for (const value of [...Object.values(VALUES), TOKEN]) expect(html).not.toContain(value);
  });

  it('without a token the page says so', async () => {
    const other = await browser.newPage();
    await other.goto(`${server.url}/`);
    await other.waitForFunction(
      () => (globalThis as unknown as Dom).document.querySelector('#status')?.getAttribute('data-state') === 'error',
      undefined,
      { timeout: 15_000 },
    );
    expect(await other.locator('#status').textContent()).toBe('a token is needed: open /#token=…');
    await other.close();
  });
});
