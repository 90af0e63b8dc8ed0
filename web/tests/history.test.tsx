import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import HistoryPage from '@/components/HistoryPage';
import { job, mockFetch } from './helpers';

describe('HistoryPage', () => {
  it('lists jobs with badges and durations, filters by status and pages back', async () => {
    const calls = mockFetch(({ url }) => {
      const q = new URL(url, 'http://x').searchParams;
      if (!url.startsWith('/jobs')) return undefined;
      if (q.get('before') === 'J2')
        return { body: { jobs: [job({ id: 'J1', type: 'add', status: 'failed', started_at: null })], next_before: null } };
      if (q.get('status') === 'succeeded') return { body: { jobs: [], next_before: null } };
      return {
        body: {
          jobs: [
            job({ id: 'J3', status: 'succeeded', started_at: '2026-01-01T10:00:00.000Z', finished_at: '2026-01-01T10:00:12.500Z' }),
            job({ id: 'J2', type: 'sleep', status: 'queued', started_at: null }),
          ],
          next_before: 'J2',
        },
      };
    });
    render(<HistoryPage />);
    const row = (await screen.findByRole('link', { name: 'J3' })).closest('tr')!;
    expect(within(row).getByText('succeeded').className).toContain('badge-succeeded');
    expect(within(row).getByText('12.5 s')).toBeTruthy();
    expect(within(row).getByText('generate_article')).toBeTruthy();
    expect(screen.getByRole('link', { name: 'J3' }).getAttribute('href')).toMatch(/^\/job\/?\?id=J3$/);

    fireEvent.click(screen.getByRole('button', { name: /Older/ }));
    expect(await screen.findByRole('link', { name: 'J1' })).toBeTruthy();
    expect(screen.queryByRole('link', { name: 'J3' })).toBeNull();
    expect((screen.getByRole('button', { name: /Older/ }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByRole('button', { name: /Newer/ }));
    expect(await screen.findByRole('link', { name: 'J3' })).toBeTruthy();

    fireEvent.change(screen.getByLabelText('Status'), { target: { value: 'succeeded' } });
    expect(await screen.findByText('No succeeded jobs.')).toBeTruthy();
    await waitFor(() => expect(calls.some((c) => c.url === '/jobs?status=succeeded&limit=20')).toBe(true));
  });
});
