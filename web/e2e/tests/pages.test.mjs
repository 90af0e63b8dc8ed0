import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiCall, newPage, shot, submit, useBrowser, waitJob } from './harness.mjs';

useBrowser();

test('History lists jobs with their status, filters and opens a job with its timeline', async (t) => {
  const ok = await submit({ type: 'add', payload: { x: 2, y: 3 } });
  const bad = await submit({ type: 'fail', payload: { times: 5, message: 'boom' }, max_attempts: 1 });
  await waitJob(ok.id);
  await waitJob(bad.id);

  const page = await newPage(t);
  await page.goto('/history/');
  const okRow = page.locator('tr', { has: page.getByRole('link', { name: ok.id }) });
  await okRow.waitFor();
  assert.equal(await okRow.locator('.badge').textContent(), 'succeeded');
  assert.match(await okRow.textContent(), /add/);
  const badRow = page.locator('tr', { has: page.getByRole('link', { name: bad.id }) });
  assert.equal(await badRow.locator('.badge').textContent(), 'failed');
  await shot(page, 'history');

  await page.getByLabel('Status').selectOption('failed');
  await badRow.waitFor();
  await okRow.waitFor({ state: 'detached' });
  for (const badge of await page.locator('tbody .badge').allTextContents()) assert.equal(badge, 'failed');

  await page.getByRole('link', { name: bad.id }).click();
  await page.waitForURL(/\/job\/?\?id=/);
  await page.getByRole('heading', { name: 'Events' }).waitFor();
  await page.getByText('boom').first().waitFor();
  await page.locator('.timeline li.tl-status').first().waitFor();
  assert.match(await page.locator('.timeline').textContent(), /failed/);
  await shot(page, 'job-detail');
  assert.deepEqual(page.errors, []);
});

test('Dashboard shows the queue counts, a live worker and the throughput chart', async (t) => {
  const page = await newPage(t);
  await page.goto('/dashboard/');
  const workers = page.locator('[data-stat=workers] .stat-value');
  await page.waitForFunction(() => Number(document.querySelector('[data-stat=workers] .stat-value')?.textContent) >= 1);
  assert.ok(Number(await workers.textContent()) >= 1);
  await page.locator('table.workers tbody tr th').first().waitFor();
  await page.locator('table.queues').getByRole('rowheader', { name: 'default' }).waitFor();
  // Finish a few jobs while the page samples the counters: the chart draws a line.
  for (let i = 0; i < 20; i += 1) await submit({ type: 'add', payload: { x: i, y: 1 } });
  await page.locator('svg path.line').waitFor({ timeout: 20_000 });
  await page.waitForFunction(() => /now|peak/.test(document.querySelector('svg[role=img]')?.getAttribute('aria-label') ?? ''));
  await page.waitForTimeout(2500);
  await shot(page, 'dashboard');
  assert.deepEqual(page.errors, []);
});

test('Dashboard draws the history charts: jobs per hour and run time by task', async (t) => {
  // The harness runs the API and the worker with a history database (SQLite).
  const jobs = [];
  for (let i = 0; i < 6; i += 1) jobs.push(await submit({ type: 'sleep', payload: { seconds: 0.2 * (i + 1) } }));
  for (const j of jobs) await waitJob(j.id, ['succeeded']);
  const end = Date.now() + 30_000;
  for (;;) {
    const { body } = await apiCall('GET', '/history/stats');
    assert.equal(body.enabled, true);
    if (body.run_time.some((r) => r.type === 'sleep' && r.count >= jobs.length)) break;
    if (Date.now() > end) throw new Error(`the jobs were not archived: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const page = await newPage(t);
  await page.goto('/dashboard/');
  const perHour = page.locator('svg[data-chart="jobs-per-hour"]');
  await perHour.locator('rect.seg-succeeded').first().waitFor();
  assert.equal(await perHour.locator('g.bar').count(), 24);
  assert.match((await perHour.getAttribute('aria-label')) ?? '', /\d+ succeeded/);
  const sleep = page.locator('svg[data-chart="run-time"] g.row[data-type="sleep"]');
  await sleep.waitFor();
  const width = async (sel) => Number(await sleep.locator(sel).getAttribute('width'));
  assert.ok((await width('rect.p95')) >= (await width('rect.p50')) && (await width('rect.p50')) > 1);
  await page.getByRole('heading', { name: 'Jobs per hour' }).scrollIntoViewIfNeeded();
  await shot(page, 'dashboard-history');
  assert.deepEqual(page.errors, []);
});

test('The API reference at /docs renders without internet', async (t) => {
  const page = await newPage(t);
  await page.goto('/docs');
  await page.getByText('/jobs/{job_id}/events').first().waitFor({ timeout: 15_000 });
  assert.ok(await page.getByText('Submit a job').first().isVisible());
  await shot(page, 'docs');
});

test('API paths are not shadowed by the UI', async () => {
  const { BASE } = await import('./harness.mjs');
  for (const path of ['/jobs', '/queues', '/workers', '/health', '/ready']) {
    const r = await fetch(`${BASE}${path}`);
    assert.match(r.headers.get('content-type') ?? '', /json/, path);
  }
  // The contract's page addresses work without the trailing slash too (the query is kept).
  for (const path of ['/history/', '/dashboard', '/job?id=01ABC']) {
    const ui = await fetch(`${BASE}${path}`);
    assert.equal(ui.status, 200, path);
    assert.match(ui.headers.get('content-type') ?? '', /html/, path);
    if (path.includes('?')) assert.match(ui.url, /\/job\/\?id=01ABC$/);
  }
});

test('The API still describes every field the UI reads (lib/api.ts)', async () => {
  const { BASE } = await import('./harness.mjs');
  const spec = await (await fetch(`${BASE}/openapi.json`)).json();
  const props = (name) => Object.keys(spec.components.schemas[name]?.properties ?? {});
  const uses = {
    JobPublic: ['id', 'type', 'queue', 'status', 'progress', 'message', 'payload', 'result', 'error', 'attempt', 'max_attempts', 'created_at', 'started_at', 'finished_at', 'worker', 'archived'],
    HistoryStats: ['enabled', 'per_hour', 'run_time'],
    HourCounts: ['hour'],
    RunTimes: ['type', 'count', 'p50_s', 'p95_s'],
    JobsPublic: ['jobs', 'next_before'],
    QueueStats: ['name', 'queued', 'running', 'enqueued', 'succeeded', 'failed', 'retried', 'recovered', 'cancelled'],
    QueuesPublic: ['queues', 'scheduled', 'dead', 'workers'],
    WorkerPublic: ['id', 'host', 'pid', 'queues', 'concurrency', 'jobs', 'last_heartbeat'],
  };
  for (const [schema, fields] of Object.entries(uses)) {
    const have = props(schema);
    assert.deepEqual(fields.filter((f) => !have.includes(f)), [], `${schema} lacks fields the UI reads`);
  }
});
