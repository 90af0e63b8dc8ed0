import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiCall, newPage, progressValues, shot, submit, useBrowser, waitJob } from './harness.mjs';

useBrowser();

const EDITED = 'Edited: what the moon does to the sea';

test('Review the outline: the job waits, one title is edited, Approve writes the article with it', async (t) => {
  const page = await newPage(t);
  await page.goto('/');
  await page.getByLabel('Topic').fill('Tides');
  await page.getByLabel('Length').selectOption('short');
  await page.getByLabel('Review the outline first').check();
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.waitForURL(/\?job=[0-9A-Z]+/);
  const id = new URL(page.url()).searchParams.get('job');

  const review = page.getByRole('form', { name: 'Review the outline' });
  await review.waitFor({ timeout: 60_000 });
  const waiting = (await apiCall('GET', `/jobs/${id}`)).body;
  assert.equal(waiting.status, 'waiting');
  assert.equal(waiting.waiting_for.name, 'approve');
  assert.match(await page.getByRole('status').first().textContent(), /Waiting for your approval/);
  const bar = page.getByRole('progressbar', { name: 'Job progress' });
  assert.match(await bar.getAttribute('aria-valuetext'), /Waiting for your approval/);
  const paused = Number(await bar.getAttribute('aria-valuenow'));
  assert.ok(paused > 0 && paused < 100, `the bar shows ${paused} while waiting`);
  const items = review.getByRole('list', { name: 'Outline' }).getByRole('listitem');
  await items.first().waitFor();
  const titles = await items.allTextContents();
  assert.ok(titles.length >= 3, `outline: ${titles}`);
  for (const name of ['Approve', 'Edit', 'Reject']) await review.getByRole('button', { name }).waitFor();
  await shot(page, 'review-waiting');

  await review.getByRole('button', { name: 'Edit' }).click();
  await review.getByLabel('Section 2 title').fill(EDITED);
  await review.getByRole('button', { name: 'Approve' }).click();

  const { seen } = await progressValues(page, async () => (await page.getByRole('status').first().textContent())?.includes('Done'), 90_000);
  assert.ok(seen.every((v) => v >= paused), `the bar went below ${paused} after Approve: ${seen}`);
  assert.deepEqual([...seen].sort((a, b) => a - b), seen, `the bar went backwards: ${seen}`);
  const article = page.locator('article');
  await article.getByRole('heading', { name: EDITED }).waitFor();
  assert.ok(!(await article.textContent()).includes(titles[1]), 'the replaced title is still in the article');
  const done = (await apiCall('GET', `/jobs/${id}`)).body;
  assert.equal(done.status, 'succeeded');
  assert.ok(done.result.markdown.includes(`## ${EDITED}\n`));
  assert.deepEqual(page.errors, []);
  await shot(page, 'review-done');
});

test('Job page: "Re-run from here" on a finished job’s step opens the new job', async (t) => {
  const original = await submit({ type: 'generate_article', payload: { topic: 'Replays', length: 'short' } });
  await waitJob(original.id, ['succeeded'], 60_000);
  const page = await newPage(t);
  await page.goto(`/job/?id=${original.id}`);
  const steps = page.getByRole('list', { name: 'Steps' });
  await steps.waitFor();
  const names = await steps.locator('code').allTextContents();
  assert.deepEqual(names, ['outline', 'section-1', 'section-2', 'section-3', 'edit', 'title']);
  await steps.getByRole('button', { name: 'Re-run from section-2' }).click();
  await page.waitForURL((url) => {
    const got = url.searchParams.get('id');
    return url.pathname.startsWith('/job') && got !== null && got !== original.id;
  });
  const replayId = new URL(page.url()).searchParams.get('id');
  await page.getByRole('heading', { name: new RegExp(replayId) }).waitFor();
  const link = page.getByRole('link', { name: original.id });
  await link.waitFor();
  const replay = await waitJob(replayId, ['succeeded'], 60_000);
  assert.equal(replay.replay_of, original.id);
  await page.locator('.badge-succeeded').first().waitFor({ timeout: 20_000 });
  await shot(page, 'replay-job');
  await link.click();
  await page.waitForURL((url) => url.searchParams.get('id') === original.id);
  assert.deepEqual(page.errors, []);
});
