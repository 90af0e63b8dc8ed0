import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import DashboardPage from '@/components/DashboardPage';
import type { ScheduleInfo } from '@/lib/api';
import { mockFetch } from './helpers';

const DIGEST: ScheduleInfo = {
  name: 'inbox-digest',
  task: 'summarise',
  type: 'summarise',
  cron: '0 9 * * *',
  timezone: 'Europe/Paris',
  queue: 'default',
  payload: {},
  next_run: '2026-12-01T08:00:00.000Z',
  last_run: null,
  catch_up: false,
};
const PING: ScheduleInfo = { ...DIGEST, name: 'ping', task: 'echo', type: 'echo', cron: '*/15 * * * *', timezone: 'UTC', last_run: '2026-11-30T10:00:00.000Z' };

function serve(schedules: { status?: number; body: unknown }) {
  return mockFetch(({ url }) => {
    if (url === '/schedules') return schedules;
    if (url === '/queues') return { body: { queues: [], scheduled: 0, dead: 0, workers: 0 } };
    if (url === '/workers') return { body: { workers: [] } };
    if (url.startsWith('/history/stats')) return { body: { enabled: false, per_hour: [], run_time: [] } };
    return undefined;
  });
}

describe('the Dashboard schedules', () => {
  it('lists each schedule with its task, cron, next and last run', async () => {
    serve({ body: { schedules: [DIGEST, PING] } });
    render(<DashboardPage />);
    const digest = await screen.findByRole('row', { name: /inbox-digest/ });
    expect(within(digest).getByText('summarise')).toBeTruthy();
    expect(digest.textContent).toContain('0 9 * * * (Europe/Paris)');
    expect(within(digest).getByText(new Date(DIGEST.next_run!).toLocaleString())).toBeTruthy();
    expect(within(digest).getByText('never')).toBeTruthy();
    const ping = screen.getByRole('row', { name: /ping/ });
    expect(ping.textContent).not.toContain('(UTC)');
    expect(ping.querySelector('td[title="2026-11-30T10:00:00.000Z"]')).toBeTruthy();
  });

  it('says so when the API cannot list them, and still shows the rest', async () => {
    serve({ status: 503, body: { detail: 'Redis is unavailable' } });
    render(<DashboardPage />);
    expect(await screen.findByText('Schedules unavailable.')).toBeTruthy();
    expect(screen.getByText(/No queues yet/)).toBeTruthy();
    expect(screen.queryByRole('alert')).toBeNull();
  });
});
