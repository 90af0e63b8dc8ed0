// The UI in front of an API with AGENTQ_API_KEYS set (the second API that e2e/run.mjs
// starts, on the same Valkey, namespace and worker): sign in with the key, then every
// call, the event stream included, carries it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newPage, progressValues, shot, useBrowser } from './harness.mjs';

useBrowser();

const KEYS_BASE = process.env.E2E_KEYS_BASE_URL;
const KEY = process.env.E2E_API_KEY;
if (!KEYS_BASE || !KEY) throw new Error('E2E_KEYS_BASE_URL / E2E_API_KEY are not set: run the browser tests with `npm run e2e`');

/** The browser logs every 401 as a failed resource load; anything else is a real error. */
const realErrors = (page) => page.errors.filter((e) => !/status of 401/.test(e));

/** Every request the page sends to the API's /jobs* and /workers paths, with its Authorization header. */
function recordApiRequests(page) {
  const seen = [];
  page.on('request', (req) => {
    const { pathname } = new URL(req.url());
    if (pathname.startsWith('/jobs') || pathname === '/workers') seen.push({ path: pathname, auth: req.headers().authorization ?? null });
  });
  return seen;
}

async function signIn(page, key) {
  const input = page.getByLabel('API key');
  await input.waitFor();
  await input.fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('With API keys: sign in with the key, generate an article, the bar reaches 100', async (t) => {
  const page = await newPage(t, undefined, KEYS_BASE);
  const requests = recordApiRequests(page);
  const streams = [];
  page.on('response', (res) => {
    if (/\/jobs\/[^/]+\/events$/.test(new URL(res.url()).pathname)) streams.push(res.status());
  });
  await page.goto('/');
  // The form is replaced by the sign-in until a key is given.
  await page.getByLabel('API key').waitFor();
  assert.equal(await page.getByLabel('Topic').count(), 0);
  await shot(page, 'auth-sign-in');
  const beforeSignIn = requests.length;
  await signIn(page, KEY);

  await page.getByLabel('Topic').fill('Keys in front of a job queue');
  await page.getByLabel('Length').selectOption('short');
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.waitForURL(/\?job=[0-9A-Z]+/);
  const id = new URL(page.url()).searchParams.get('job');
  const { seen } = await progressValues(page, async () => (await page.getByRole('status').first().textContent())?.includes('Done'));
  assert.ok(seen.some((v) => v > 0 && v < 100), `no value strictly between 0 and 100 in ${seen}`);
  assert.equal(seen[seen.length - 1], 100);
  await page.locator('article h2').waitFor();
  await shot(page, 'auth-generate-done');

  // The stream was read with the key (EventSource could not send it): 200, not 401.
  assert.ok(streams.length >= 1, 'the page never opened the event stream');
  assert.ok(streams.every((s) => s === 200), `event stream answers: ${streams}`);
  assert.equal(await page.getByText('Live updates unavailable').count(), 0);

  // The key is kept for the tab: the other pages need no second sign-in.
  await page.goto('/history/');
  await page.getByRole('link', { name: id }).waitFor();
  await page.goto('/dashboard/');
  await page.locator('table.workers tbody tr th').first().waitFor();
  assert.equal(await page.getByLabel('API key').count(), 0);

  const after = requests.slice(beforeSignIn);
  assert.ok(after.some((r) => r.path.endsWith('/events')), 'no event stream request was seen');
  // Compared here, not by assert.equal, so that a failure does not print the key.
  const wrong = after.filter((r) => r.auth !== `Bearer ${KEY}`).map((r) => `${r.path} (${r.auth ? 'another key' : 'no key'})`);
  assert.deepEqual(wrong, [], 'requests without the key');
  assert.deepEqual(realErrors(page), []);
});

test('With API keys: a wrong key shows "Invalid API key" and the sign-in field again', async (t) => {
  const page = await newPage(t, undefined, KEYS_BASE);
  await page.goto('/history/');
  await signIn(page, 'not-the-key');
  await page.getByText('Invalid API key').waitFor();
  const input = page.getByLabel('API key');
  assert.ok(await input.isVisible());
  assert.equal(await input.inputValue(), '');
  assert.equal(await page.locator('table.jobs').count(), 0);
  await shot(page, 'auth-invalid-key');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('agentq.apiKey')), null);

  // The right key then opens the page.
  await signIn(page, KEY);
  await page.locator('table.jobs').waitFor();
  assert.equal(await page.getByText('Invalid API key').count(), 0);
  assert.deepEqual(realErrors(page), []);
});

test('With API keys: a stored key the API refuses brings back the sign-in, not a broken page', async (t) => {
  const page = await newPage(t, undefined, KEYS_BASE);
  await page.addInitScript(() => sessionStorage.setItem('agentq.apiKey', 'a-key-that-was-rotated-away'));
  await page.goto('/dashboard/');
  await page.getByText('Invalid API key').waitFor();
  await page.getByLabel('API key').waitFor();
  assert.equal(await page.locator('table.workers').count(), 0);
  assert.deepEqual(realErrors(page), []);
});
