// Shared by the browser tests: one headless Chromium per test file, a fresh context per
// test, and small helpers to talk to the API directly.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

export const BASE = process.env.E2E_BASE_URL;
if (!BASE) throw new Error('E2E_BASE_URL is not set: run the browser tests with `npm run e2e`');
const SHOTS = process.env.E2E_RESULTS ?? 'test-results';
mkdirSync(SHOTS, { recursive: true });

export const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

let browser;

export function useBrowser() {
  before(async () => {
    browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', args: FLAGS, headless: true });
  });
  after(async () => {
    await browser?.close();
  });
}

/**
 * A page in a fresh context; browser console errors are collected in page.errors.
 * `baseURL`: another API than the default one (e.g. the one with API keys).
 */
export async function newPage(t, viewport = { width: 1200, height: 900 }, baseURL = BASE) {
  const context = await browser.newContext({ viewport, baseURL });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.errors.push(msg.text());
  });
  t.after(() => context.close());
  return page;
}

export async function shot(page, name, opts = {}) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true, ...opts });
}

export async function apiCall(method, path, body) {
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export async function submit(body) {
  const r = await apiCall('POST', '/jobs', body);
  if (r.status !== 202 && r.status !== 200) throw new Error(`POST /jobs → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** The job's record once its status is one of `statuses` (and `accept(record)` holds). */
export async function waitJob(id, statuses = ['succeeded', 'failed', 'cancelled'], timeoutMs = 30_000, accept = () => true) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await apiCall('GET', `/jobs/${id}`);
    if (r.status === 200 && statuses.includes(r.body.status) && accept(r.body)) return r.body;
    if (Date.now() > end) throw new Error(`job ${id} still ${r.body?.status} after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 150));
  }
}

/** Every value the progress bar shows, sampled until `until` resolves true or the timeout. */
export async function progressValues(page, until, timeoutMs = 60_000) {
  const seen = [];
  const boxes = [];
  const end = Date.now() + timeoutMs;
  const sample = async () => {
    const bar = page.getByRole('progressbar', { name: 'Job progress' });
    if (await bar.count()) {
      const v = Number(await bar.getAttribute('aria-valuenow'));
      if (seen[seen.length - 1] !== v) seen.push(v);
      boxes.push(await bar.boundingBox());
    }
  };
  while (Date.now() < end) {
    await sample();
    if (await until()) {
      // The page may have moved on between the two reads: record the bar as it ends.
      await sample();
      return { seen, boxes };
    }
    await page.waitForTimeout(80);
  }
  throw new Error(`timed out; the bar showed ${seen.join(', ')}`);
}
