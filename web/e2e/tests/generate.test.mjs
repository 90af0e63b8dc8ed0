import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiCall, newPage, progressValues, shot, submit, useBrowser, waitJob } from './harness.mjs';

useBrowser();

const statusText = (page) => page.getByRole('status').first().textContent();

test('Generate: the bar moves through 0 < p < 100 to 100 and the article appears', async (t) => {
  const page = await newPage(t);
  await page.goto('/');
  await page.getByLabel('Topic').fill('How Redis lists make a job queue');
  await page.getByLabel('Length').selectOption('short');
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.waitForURL(/\?job=[0-9A-Z]+/);
  const id = new URL(page.url()).searchParams.get('job');

  let draftSeen = false;
  let midShot = false;
  const { seen, boxes } = await progressValues(page, async () => {
    if (!draftSeen && (await page.getByRole('region', { name: 'Draft so far' }).count())) draftSeen = true;
    const v = Number(await page.getByRole('progressbar').getAttribute('aria-valuenow'));
    if (!midShot && v >= 30 && v < 100) {
      midShot = true;
      await shot(page, 'generate-running');
    }
    return (await statusText(page))?.includes('Done');
  });
  assert.ok(seen.some((v) => v > 0 && v < 100), `no value strictly between 0 and 100 in ${seen}`);
  assert.equal(seen[seen.length - 1], 100);
  assert.deepEqual([...seen].sort((a, b) => a - b), seen, `the bar went backwards: ${seen}`);
  assert.ok(draftSeen, 'the partial text never showed while the job ran');
  // No layout jump: the bar keeps its place and size while it fills.
  const first = boxes.find(Boolean);
  for (const b of boxes.filter(Boolean)) {
    assert.equal(Math.round(b.y), Math.round(first.y));
    assert.equal(Math.round(b.height), Math.round(first.height));
  }

  const record = (await apiCall('GET', `/jobs/${id}`)).body;
  assert.equal(record.status, 'succeeded');
  const article = page.locator('article');
  await article.getByRole('heading', { name: record.result.title }).waitFor();
  assert.ok((await article.textContent()).includes(`${record.result.words} words`));
  assert.equal(await article.locator('script, img').count(), 0);
  assert.deepEqual(page.errors, []);
  await shot(page, 'generate-done');

  // Reloading resumes following the same job (it is in the address).
  await page.reload();
  await page.locator('article').getByRole('heading', { name: record.result.title }).waitFor();
});

test('Generate on a phone: the form and the bar fit the width', async (t) => {
  const page = await newPage(t, { width: 390, height: 844 });
  const job = await submit({ type: 'generate_article', payload: { topic: 'Phones', length: 'short' } });
  await page.goto(`/?job=${job.id}`);
  await page.getByRole('progressbar', { name: 'Job progress' }).waitFor();
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `the page scrolls sideways: ${width}px`);
  await page.getByRole('status').filter({ hasText: 'Done' }).waitFor({ timeout: 60_000 });
  await shot(page, 'generate-phone');
});

test('Cancel a running job: the status shows cancelled', async (t) => {
  const page = await newPage(t);
  await page.goto('/');
  await page.getByLabel('Topic').fill('A long article to cancel');
  await page.getByLabel('Length').selectOption('long');
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.waitForURL(/\?job=/);
  const id = new URL(page.url()).searchParams.get('job');
  await page.getByRole('status').filter({ hasText: 'Running' }).waitFor({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('status').filter({ hasText: 'Cancelled' }).waitFor({ timeout: 20_000 });
  assert.equal(await page.locator('.badge').first().textContent(), 'cancelled');
  assert.equal((await waitJob(id)).status, 'cancelled');
  assert.equal(await page.getByRole('button', { name: 'Cancel' }).count(), 0);
  await page.getByRole('button', { name: 'Retry' }).waitFor();
  await shot(page, 'generate-cancelled');
});

test('A failing job shows its error and offers Retry', async (t) => {
  const job = await submit({ type: 'fail', payload: { times: 5, message: 'boom' }, max_attempts: 1 });
  await waitJob(job.id);
  const page = await newPage(t);
  await page.goto(`/?job=${job.id}`);
  const alert = page.getByRole('alert').filter({ hasText: 'boom' });
  await alert.waitFor();
  assert.match(await page.getByRole('status').first().textContent(), /Failed/);
  await page.getByRole('button', { name: 'Retry' }).waitFor();
  await shot(page, 'generate-failed');
  // Retry runs it again (attempt counter reset); it fails again with the same error.
  // The failure is on screen already, so wait for what only a real retry brings: the API
  // accepting it, the job finishing a second time, and a new error alert for that run.
  const first = await waitJob(job.id);
  await alert.evaluate((el) => el.setAttribute('data-before-retry', ''));
  const retried = page.waitForResponse((r) => r.url().endsWith(`/jobs/${job.id}/retry`) && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Retry' }).click();
  assert.equal((await retried).status(), 202);
  const again = await waitJob(job.id, ['failed'], 30_000, (r) => r.finished_at !== first.finished_at);
  assert.match(again.error.message, /boom/);
  await page.locator('[role=alert]:not([data-before-retry])').filter({ hasText: 'boom' }).waitFor();
  assert.equal(await page.locator('[data-before-retry]').count(), 0, 'the alert from before the retry is still shown');
  await page.getByRole('status').filter({ hasText: 'Failed' }).waitFor();
  await page.getByRole('button', { name: 'Retry' }).waitFor();
});

test('A 422 from the API shows next to the form', async (t) => {
  const page = await newPage(t);
  await page.goto('/');
  // Keyboard only: Tab into the topic field, leave it empty, Enter submits the form.
  const topic = page.getByLabel('Topic');
  for (let i = 0; i < 12 && !(await topic.evaluate((el) => el === document.activeElement)); i += 1) await page.keyboard.press('Tab');
  assert.ok(await topic.evaluate((el) => el === document.activeElement), 'Tab never reached the topic field');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('input[name=topic]')?.getAttribute('aria-invalid') === 'true');
  const describedBy = await topic.getAttribute('aria-describedby');
  const msg = await page.locator(`#${describedBy.replace(/:/g, '\\:')}`).textContent();
  assert.ok(msg.length > 0);
  assert.equal(new URL(page.url()).searchParams.get('job'), null);
  await shot(page, 'generate-422');
});
