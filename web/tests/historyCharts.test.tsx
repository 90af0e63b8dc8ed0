import { render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import DashboardPage from '@/components/DashboardPage';
import HistoryCharts from '@/components/HistoryCharts';
import JobsPerHourChart from '@/components/JobsPerHourChart';
import RunTimeChart from '@/components/RunTimeChart';
import type { HistoryStats } from '@/lib/api';
import { formatSeconds, hourBars, runTimeBars, totals } from '@/lib/historyStats';
import { mockFetch } from './helpers';

const NOW = Date.parse('2026-11-30T10:25:00Z');
const STATS: HistoryStats = {
  enabled: true,
  since: '2026-11-29T10:25:00Z',
  per_hour: [
    { hour: '2026-11-29T11:00:00Z', succeeded: 4 }, // the oldest hour of the window
    { hour: '2026-11-30T08:00:00Z', succeeded: 10, failed: 2 },
    { hour: '2026-11-30T10:00:00Z', succeeded: 3, cancelled: 1, lost: 5 },
    { hour: '2026-11-28T10:00:00Z', succeeded: 99 }, // outside the window: left out
  ],
  run_time: [
    { type: 'sleep', count: 3, p50_s: 0.3, p95_s: 0.5 },
    { type: 'generate_article', count: 12, p50_s: 8.2, p95_s: 14 },
    { type: 'add', count: 12, p50_s: 0.002, p95_s: 0.004 },
  ],
};

describe('history stats for the charts', () => {
  it('gives every hour of the window, oldest first, with a count per status', () => {
    const bars = hourBars(STATS, NOW, 24);
    expect(bars).toHaveLength(24);
    expect(new Date(bars[0].t).toISOString()).toBe('2026-11-29T11:00:00.000Z');
    expect(new Date(bars[23].t).toISOString()).toBe('2026-11-30T10:00:00.000Z');
    expect(bars[0].counts.succeeded).toBe(4);
    expect(bars[21].counts).toEqual({ succeeded: 10, failed: 2, cancelled: 0, other: 0 });
    expect(bars[23]).toMatchObject({ total: 9, counts: { succeeded: 3, failed: 0, cancelled: 1, other: 5 } });
    expect(bars.filter((b) => b.total === 0)).toHaveLength(21);
    expect(totals(bars)).toEqual({ succeeded: 17, failed: 2, cancelled: 1, other: 5 });
  });

  it('lists run times by how often the type ran, p95 never under p50', () => {
    const rows = runTimeBars({ run_time: [...STATS.run_time!, { type: 'odd', count: 1, p50_s: 2, p95_s: 1 }] }, 3);
    expect(rows.map((r) => r.type)).toEqual(['add', 'generate_article', 'sleep']);
    expect(runTimeBars({ run_time: [{ type: 'odd', count: 1, p50_s: 2, p95_s: 1 }] })[0].p95).toBe(2);
    expect(runTimeBars({})).toEqual([]);
  });

  it('formats seconds briefly', () => {
    expect([0.004, 0.3, 8.25, 14, 300, 9000].map(formatSeconds)).toEqual(['4 ms', '300 ms', '8.3 s', '14 s', '5.0 min', '2.5 h']);
  });
});

describe('JobsPerHourChart', () => {
  it('stacks each hour by status, bars in proportion to the counts', () => {
    const { container } = render(<JobsPerHourChart bars={hourBars(STATS, NOW, 24)} />);
    const img = screen.getByRole('img');
    expect(img.tagName.toLowerCase()).toBe('svg');
    expect(img.getAttribute('aria-label')).toBe(
      'Jobs that ended per hour over the last 24 hours: 17 succeeded, 2 failed, 1 cancelled, 5 other',
    );
    expect(container.querySelectorAll('g.bar')).toHaveLength(24);
    const busiest = container.querySelector('g.bar[data-hour="2026-11-30T08:00:00.000Z"]')!;
    const ok = busiest.querySelector('rect.seg-succeeded')!;
    const bad = busiest.querySelector('rect.seg-failed')!;
    const h = (r: Element) => Number(r.getAttribute('height'));
    expect(h(ok) / h(bad)).toBeCloseTo(5, 1);
    // succeeded at the bottom, failed stacked on top of it
    expect(Number(bad.getAttribute('y')) + h(bad)).toBeCloseTo(Number(ok.getAttribute('y')), 0);
    // the y axis rounds the peak (12) up to 20
    expect(Array.from(img.querySelectorAll('text')).map((t) => t.textContent)).toContain('20');
    expect(busiest.querySelector('title')!.textContent).toMatch(/12 ended \(10 succeeded, 2 failed\)/);
    expect(container.querySelectorAll('g.bar rect')).toHaveLength(1 + 2 + 3);
    expect(screen.getByText('other')).toBeTruthy(); // legend
  });

  it('draws an empty frame for a quiet day', () => {
    const { container } = render(<JobsPerHourChart bars={hourBars({ per_hour: [] }, NOW)} />);
    expect(container.querySelectorAll('rect')).toHaveLength(0);
    expect(screen.getByRole('img').getAttribute('aria-label')).toMatch(/: none$/);
  });
});

describe('RunTimeChart', () => {
  it('draws p50 and p95 per task type on one scale', () => {
    const { container } = render(<RunTimeChart rows={runTimeBars(STATS)} />);
    const rows = container.querySelectorAll('g.row');
    expect(Array.from(rows).map((r) => r.getAttribute('data-type'))).toEqual(['add', 'generate_article', 'sleep']);
    const article = container.querySelector('g.row[data-type="generate_article"]')!;
    const w = (sel: string) => Number(article.querySelector(sel)!.getAttribute('width'));
    expect(w('rect.p50') / w('rect.p95')).toBeCloseTo(8.2 / 14, 2);
    expect(article.textContent).toContain('8.2 s / 14 s');
    expect(screen.getByRole('img').getAttribute('aria-label')).toContain('generate_article p50 8.2 s, p95 14 s');
  });

  it('says so when no job succeeded', () => {
    render(<RunTimeChart rows={[]} />);
    expect(screen.getByText('No succeeded job in the window')).toBeTruthy();
  });
});

describe('HistoryCharts', () => {
  it('draws both charts from GET /history/stats', async () => {
    const calls = mockFetch(({ url }) => (url.startsWith('/history/stats') ? { body: STATS } : undefined));
    const { container } = render(<HistoryCharts />);
    await waitFor(() => expect(container.querySelector('svg[data-chart="jobs-per-hour"]')).toBeTruthy());
    expect(container.querySelector('svg[data-chart="run-time"]')).toBeTruthy();
    expect(screen.getByRole('heading', { name: 'Jobs per hour' })).toBeTruthy();
    expect(calls[0].url).toBe('/history/stats?hours=24');
  });

  it('is replaced by a short note without a history database', async () => {
    mockFetch(({ url }) => (url.startsWith('/history/stats') ? { body: { enabled: false, per_hour: [], run_time: [] } } : undefined));
    const { container } = render(<HistoryCharts />);
    expect(await screen.findByText(/No history database/)).toBeTruthy();
    expect(container.querySelector('svg')).toBeNull();
  });

  it('is part of the Dashboard', async () => {
    mockFetch(({ url }) => {
      if (url.startsWith('/history/stats')) return { body: STATS };
      if (url === '/queues') return { body: { queues: [], scheduled: 0, dead: 0, workers: 0 } };
      if (url === '/workers') return { body: { workers: [] } };
      return undefined;
    });
    render(<DashboardPage />);
    const charts = await screen.findAllByRole('img');
    await waitFor(() =>
      expect(screen.getAllByRole('img').map((i) => i.getAttribute('aria-label'))).toEqual(
        expect.arrayContaining([expect.stringMatching(/^Jobs that ended per hour/), expect.stringMatching(/^Run time per task type/)]),
      ),
    );
    expect(charts.length).toBeGreaterThanOrEqual(1);
  });
});
