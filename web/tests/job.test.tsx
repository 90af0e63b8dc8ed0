import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import JobFollower from '@/components/JobFollower';
import type { JobRecord } from '@/lib/api';
import { FakeStream, flush, job, mockFetch, streamFor } from './helpers';

const ID = '01JOBTEST0000000000000000A';

/** A fake API whose job record the test moves along. */
function api(initial: Partial<JobRecord>, opts: { stream?: boolean } = {}) {
  const state = { record: job({ id: ID, ...initial }) };
  const calls = mockFetch((call, init) => {
    const { method, url } = call;
    if (opts.stream) {
      const stream = streamFor(call, init);
      if (stream) return stream;
    }
    if (method === 'GET' && url === `/jobs/${ID}`) return { body: state.record };
    if (method === 'POST' && url === `/jobs/${ID}/cancel`) {
      state.record = { ...state.record, status: 'cancelled', error: { type: 'cancelled', message: 'cancelled by request' } };
      return { status: 202, body: state.record };
    }
    if (method === 'POST' && url === `/jobs/${ID}/retry`) {
      state.record = { ...state.record, status: 'queued', progress: 0, error: null, attempt: 1 };
      return { status: 202, body: state.record };
    }
    return undefined;
  });
  return { state, calls };
}

const bar = () => screen.getByRole('progressbar', { name: 'Job progress' });

describe('JobFollower', () => {
  it('moves the bar with the stream, shows the draft, then the finished article', async () => {
    const { state } = api({ status: 'running', progress: 5, message: 'Planning' }, { stream: true });
    render(<JobFollower id={ID} />);
    await waitFor(() => expect(bar().getAttribute('aria-valuenow')).toBe('5'));
    expect(screen.getByRole('status').textContent).toContain('Running');

    await waitFor(() => expect(FakeStream.instances).toHaveLength(1));
    const es = FakeStream.last();
    expect(es.url).toBe(`/jobs/${ID}/events`);
    await act(async () => {
      es.emit({ type: 'progress', progress: 40, message: 'Drafting section 2 of 4' }, undefined, '1-0');
      es.emit({ type: 'partial', text: 'Redis lists are' }, undefined, '2-0');
      es.emit({ type: 'partial', text: ' simple.' }, undefined, '3-0');
      await flush();
    });
    expect(screen.getByText('Live updates')).toBeTruthy();
    expect(bar().getAttribute('aria-valuenow')).toBe('40');
    expect(screen.getByText('Drafting section 2 of 4')).toBeTruthy();
    expect(screen.getByRole('region', { name: 'Draft so far' }).textContent).toContain('Redis lists are simple.');

    state.record = {
      ...state.record,
      status: 'succeeded',
      progress: 100,
      message: 'Done',
      result: { title: 'Redis lists', markdown: '## Why lists\n\nBecause **LPUSH**.', words: 3, provider: 'offline' },
    };
    await act(async () => {
      es.emit({ type: 'status', status: 'succeeded' }, undefined, '4-0');
      await flush();
    });
    expect(es.aborted).toBe(true);
    expect(await screen.findByRole('heading', { name: 'Redis lists' })).toBeTruthy();
    expect(screen.getByRole('heading', { name: 'Why lists' })).toBeTruthy();
    expect(bar().getAttribute('aria-valuenow')).toBe('100');
    expect(screen.queryByRole('region', { name: 'Draft so far' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Cancel' })).toBeNull();
  });

  it('follows by polling alone when the stream is refused', async () => {
    // No stream route: GET /jobs/{id}/events answers 404.
    const { state, calls } = api({ status: 'running', progress: 20 });
    render(<JobFollower id={ID} />);
    await waitFor(() => expect(bar().getAttribute('aria-valuenow')).toBe('20'));
    expect(await screen.findByText(/polling/)).toBeTruthy();
    expect(calls.filter((c) => c.url.endsWith('/events'))).toHaveLength(1);
    state.record = { ...state.record, progress: 70, message: 'Editing' };
    await waitFor(() => expect(bar().getAttribute('aria-valuenow')).toBe('70'), { timeout: 2500 });
  });

  it('cancels a running job', async () => {
    const { calls } = api({ status: 'running', progress: 30 });
    render(<JobFollower id={ID} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toContain('Cancelled'));
    expect(calls.some((c) => c.method === 'POST' && c.url === `/jobs/${ID}/cancel`)).toBe(true);
    expect(screen.getByRole('button', { name: 'Retry' })).toBeTruthy();
  });

  it('shows the error of a failed job and retries it', async () => {
    const { calls } = api({ status: 'failed', progress: 10, error: { type: 'exception', message: 'boom' } });
    render(<JobFollower id={ID} />);
    expect((await screen.findByText(/boom/)).closest('[role=alert]')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    await waitFor(() => expect(screen.getByRole('status').textContent).toContain('Waiting for a worker'));
    expect(calls.filter((c) => c.url === `/jobs/${ID}/retry`)).toHaveLength(1);
    expect(screen.queryByText(/boom/)).toBeNull();
    expect(bar().getAttribute('aria-valuenow')).toBe('0');
  });

  it('after Retry the stream resumes after the previous run instead of replaying its end', async () => {
    const { state } = api({ status: 'failed', progress: 10, error: { type: 'exception', message: 'boom' } }, { stream: true });
    render(<JobFollower id={ID} />);
    await waitFor(() => expect(FakeStream.instances).toHaveLength(1));
    const old = FakeStream.last();
    expect(old.headers.get('last-event-id')).toBeNull();
    await act(async () => {
      old.emit({ type: 'status', status: 'running' }, undefined, '1-0');
      old.emit({ type: 'status', status: 'failed' }, undefined, '2-0');
      await flush();
    });
    expect(old.aborted).toBe(true);
    fireEvent.click(await screen.findByRole('button', { name: 'Retry' }));
    await waitFor(() => expect(FakeStream.instances).toHaveLength(2));
    const fresh = FakeStream.last();
    expect(fresh.headers.get('last-event-id')).toBe('2-0');
    state.record = { ...state.record, status: 'running', progress: 0 };
    await act(async () => {
      fresh.emit({ type: 'status', status: 'running', attempt: 1 }, undefined, '3-0');
      fresh.emit({ type: 'progress', progress: 60, message: 'Drafting' }, undefined, '4-0');
      await flush();
    });
    expect(fresh.aborted).toBe(false);
    await waitFor(() => expect(bar().getAttribute('aria-valuenow')).toBe('60'));
    expect(screen.getByRole('status').textContent).toContain('Running');
  });

  it('says when the job does not exist', async () => {
    mockFetch(() => ({ status: 404, body: { detail: 'job not found' } }));
    render(<JobFollower id="nope" />);
    expect(await screen.findByRole('heading', { name: 'Job not found' })).toBeTruthy();
  });
});
