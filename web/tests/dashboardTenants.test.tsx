import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import DashboardPage from '@/components/DashboardPage';
import type { QueuesResponse } from '@/lib/api';
import { mockFetch } from './helpers';

function serve(queues: QueuesResponse) {
  mockFetch(({ url }) => {
    if (url === '/queues') return { body: queues };
    if (url === '/workers') return { body: { workers: [] } };
    if (url.startsWith('/history/stats')) return { body: { enabled: false, per_hour: [], run_time: [] } };
    return undefined;
  });
}

const BASE = { queues: [], scheduled: 0, dead: 0, workers: 0 };

describe('Dashboard tenants', () => {
  it('shows running and queued jobs per tenant from GET /queues', async () => {
    serve({
      ...BASE,
      tenants: [
        { tenant: 'acme', queued: 1200, running: 3, estimated: true },
        { tenant: 'default', queued: 2, running: 0, estimated: true },
      ],
    });
    render(<DashboardPage />);
    const table = (await screen.findByRole('heading', { name: 'Tenants' })).closest('section')!;
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows.map((r) => Array.from(r.children).map((c) => c.textContent))).toEqual([
      ['acme', '3', '≈1200'],
      ['default', '0', '≈2'],
    ]);
  });

  it('has no tenants table when the answer has no tenants (no key)', async () => {
    serve({ ...BASE, tenants: [] });
    render(<DashboardPage />);
    await screen.findByRole('heading', { name: 'Queues' });
    await screen.findAllByText(/No queues yet/);
    expect(screen.queryByRole('heading', { name: 'Tenants' })).toBeNull();
  });
});
