import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import HistoryPage from '@/components/HistoryPage';
import JobDetailPage from '@/components/JobDetailPage';
import JobFollower from '@/components/JobFollower';
import { FakeStream, job, mockFetch, streamFor } from './helpers';

const ID = '01JOBARCHIVED000000000000A';

vi.mock('next/navigation', () => ({ useSearchParams: () => new URLSearchParams(`id=${ID}`), useRouter: () => ({ push: () => {} }) }));

describe('archived jobs (from the history database)', () => {
  it('History marks them and searches through them', async () => {
    const calls = mockFetch(({ url }) => {
      if (!url.startsWith('/jobs')) return undefined;
      return {
        body: {
          jobs: [
            job({ id: 'LIVE', status: 'succeeded', finished_at: '2026-01-01T10:00:05.000Z' }),
            job({ id: 'OLD', status: 'failed', finished_at: '2026-01-01T10:00:05.000Z', archived: true }),
          ],
          next_before: null,
        },
      };
    });
    render(<HistoryPage />);
    const old = (await screen.findByRole('link', { name: 'OLD' })).closest('tr')!;
    expect(within(old).getByText('archived').className).toContain('badge-archived');
    const live = screen.getByRole('link', { name: 'LIVE' }).closest('tr')!;
    expect(within(live).queryByText('archived')).toBeNull();

    const box = screen.getByLabelText('Search');
    fireEvent.change(box, { target: { value: ' timeout ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Search' }));
    await waitFor(() => expect(calls.some((c) => c.url === '/jobs?q=timeout&limit=20')).toBe(true));
  });

  it('the job page shows the record, and a timeline rebuilt from it, when the event stream has nothing', async () => {
    const record = job({
      id: ID,
      type: 'sleep',
      status: 'failed',
      progress: 40,
      attempt: 2,
      max_attempts: 2,
      payload: { seconds: 60 },
      error: { type: 'lost', message: 'worker host-1-ab stopped answering' },
      finished_at: '2026-01-01T10:01:00.000Z',
      archived: true,
    });
    mockFetch((call, init) => {
      const stream = streamFor(call, init);
      if (stream) {
        // Redis no longer holds the job: the stream ends at once, without an event.
        queueMicrotask(() => FakeStream.last().end());
        return stream;
      }
      if (call.url === `/jobs/${ID}`) return { body: record };
      return undefined;
    });
    render(<JobDetailPage />);
    const heading = await screen.findByRole('heading', { level: 1 });
    await waitFor(() => expect(within(heading).getByText('archived')).toBeTruthy());
    expect(screen.getByText('sleep')).toBeTruthy();
    expect(screen.getByRole('alert').textContent).toContain('worker host-1-ab stopped answering');
    expect(screen.getByText(/Archived: Redis no longer holds this job/)).toBeTruthy();
    const lines = screen.getAllByRole('listitem').map((li) => li.textContent);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain('created');
    expect(lines[1]).toContain('running – attempt 2 of 2 on host-1-ab');
    expect(lines[2]).toContain('failed – worker host-1-ab stopped answering');
    // The stream is given up at once: no reconnecting (the first retry would come after
    // 1 s), no "unavailable".
    await new Promise((r) => setTimeout(r, 2500));
    expect(FakeStream.instances).toHaveLength(1);
    expect(screen.queryByText(/event stream is unavailable/)).toBeNull();
    expect(screen.queryByText('No events yet.')).toBeNull();
  });

  it('the Generate page offers no Retry for an archived job (the API no longer has it)', async () => {
    const failed = job({ id: ID, status: 'failed', error: { type: 'exception', message: 'boom' }, finished_at: '2026-01-01T10:01:00.000Z' });
    mockFetch(({ url }) => (url === `/jobs/${ID}` ? { body: { ...failed, archived: true } } : undefined));
    render(<JobFollower id={ID} />);
    expect(await screen.findByText(/boom/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Retry' })).toBeNull();
  });
});
