import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import DashboardPage from '@/components/DashboardPage';
import { mockFetch } from './helpers';

function serve(usage: { status?: number; body: unknown }) {
  return mockFetch(({ url }) => {
    if (url.startsWith('/usage')) return usage;
    if (url === '/schedules') return { body: { schedules: [] } };
    if (url === '/queues') return { body: { queues: [], scheduled: 0, dead: 0, workers: 0 } };
    if (url === '/workers') return { body: { workers: [] } };
    if (url.startsWith('/history/stats')) return { body: { enabled: false, per_hour: [], run_time: [] } };
    return undefined;
  });
}

describe('the Dashboard tokens table', () => {
  it('shows the last hour of tokens per tenant and model', async () => {
    serve({
      body: {
        minutes: 60,
        usage: [
          { tenant: 'acme', model: 'gpt-4o-mini', prompt_tokens: 12400, completion_tokens: 30800, calls: 42, cost: 0.0203 },
          { tenant: 'default', model: 'offline', prompt_tokens: 10, completion_tokens: 20, calls: 1, cost: null },
        ],
      },
    });
    render(<DashboardPage />);
    const acme = await screen.findByRole('row', { name: /acme/ });
    expect(within(acme).getByText('gpt-4o-mini')).toBeTruthy();
    expect(within(acme).getByText('12,400')).toBeTruthy();
    expect(within(acme).getByText('30,800')).toBeTruthy();
    expect(within(acme).getByText('$0.0203')).toBeTruthy();
    const offline = screen.getByRole('row', { name: /offline/ });
    expect(within(offline).getByText('–')).toBeTruthy();
  });

  it('leaves the table out when the API cannot answer', async () => {
    serve({ status: 503, body: { detail: 'Redis is unreachable' } });
    render(<DashboardPage />);
    await screen.findByRole('heading', { name: 'Schedules' });
    expect(screen.queryByRole('heading', { name: 'Tokens in the last hour' })).toBeNull();
  });
});
