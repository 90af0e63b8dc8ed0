import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import ArticleForm from '@/components/ArticleForm';
import JobDetailPage from '@/components/JobDetailPage';
import JobFollower from '@/components/JobFollower';
import StatusBadge from '@/components/StatusBadge';
import { outlineTitles } from '@/components/WaitingPanel';
import { stepSummary } from '@/components/JobSteps';
import type { JobRecord } from '@/lib/api';
import { FakeStream, flush, job, mockFetch, streamFor } from './helpers';

const ID = '01JOBREVIEW00000000000000A';
const nav = vi.hoisted(() => ({ push: vi.fn(), id: '' }));
vi.mock('next/navigation', () => ({
  useSearchParams: () => new URLSearchParams(`id=${nav.id}`),
  useRouter: () => ({ push: nav.push }),
}));

const OUTLINE = {
  sections: [
    { title: 'Why tides happen', kind: 'what' },
    { title: 'The moon and the sun', kind: 'how' },
    { title: 'Living with tides', kind: 'use' },
  ],
  provider: 'offline',
  model: 'offline',
};

const WAITING: Partial<JobRecord> = {
  status: 'waiting',
  progress: 10,
  message: 'waiting for approve',
  waiting_for: { name: 'approve', until: '2026-01-02T10:00:00.000Z' },
};

/** A fake API: the job record (moved along by signals), its steps, replay. */
function api(initial: Partial<JobRecord>, opts: { stream?: boolean; steps?: { name: string; result: unknown }[] } = {}) {
  const state = { record: job({ id: ID, ...initial }) };
  const calls = mockFetch((call, init) => {
    const { method, url } = call;
    if (opts.stream) {
      const stream = streamFor(call, init);
      if (stream) return stream;
    }
    if (method === 'GET' && url === `/jobs/${ID}`) return { body: state.record };
    if (method === 'GET' && url === `/jobs/${ID}/steps`) return { body: { steps: opts.steps ?? [{ name: 'outline', result: OUTLINE }] } };
    if (method === 'POST' && url.startsWith(`/jobs/${ID}/signals/`)) {
      const { waiting_for: _, ...rest } = state.record;
      state.record = { ...rest, status: 'queued' };
      return { status: 202, body: state.record };
    }
    if (method === 'POST' && url === `/jobs/${ID}/replay`) {
      return { status: 202, body: job({ id: 'NEWJOB', status: 'queued', replay_of: ID }) };
    }
    return undefined;
  });
  return { state, calls };
}

const bar = () => screen.getByRole('progressbar', { name: 'Job progress' });
const signals = (calls: ReturnType<typeof api>['calls']) => calls.filter((c) => c.method === 'POST' && c.url.includes('/signals/'));

describe('ArticleForm review', () => {
  it('sends review: true when "Review the outline first" is ticked', async () => {
    const calls = mockFetch(({ method, url }) =>
      method === 'POST' && url === '/jobs' ? { status: 202, body: { id: 'J1', status: 'queued' } } : undefined,
    );
    const onSubmitted = vi.fn();
    render(<ArticleForm onSubmitted={onSubmitted} />);
    fireEvent.change(screen.getByLabelText('Topic'), { target: { value: 'Tides' } });
    fireEvent.click(screen.getByLabelText('Review the outline first'));
    fireEvent.click(screen.getByRole('button', { name: 'Generate' }));
    await waitFor(() => expect(onSubmitted).toHaveBeenCalled());
    expect(calls[0].body).toEqual({
      type: 'generate_article',
      payload: { topic: 'Tides', language: 'en', level: 'intermediate', length: 'short', review: true },
    });
  });
});

describe('JobFollower while the job waits for approve', () => {
  it('pauses the bar, shows the outline, and approves an edited outline', async () => {
    const { calls } = api(WAITING);
    render(<JobFollower id={ID} />);
    const review = await screen.findByRole('form', { name: 'Review the outline' });
    expect(screen.getByRole('status').textContent).toContain('Waiting for your approval');
    expect(bar().getAttribute('aria-valuenow')).toBe('10');
    expect(bar().getAttribute('aria-valuetext')).toBe('10% – Waiting for your approval');
    expect(bar().closest('.progress')!.className).toContain('progress-waiting');
    expect(screen.getAllByText('waiting')[0].className).toContain('badge-waiting');
    const outline = await within(review).findByRole('list', { name: 'Outline' });
    expect(within(outline).getAllByRole('listitem').map((li) => li.textContent)).toEqual([
      'Why tides happen',
      'The moon and the sun',
      'Living with tides',
    ]);

    fireEvent.click(within(review).getByRole('button', { name: 'Edit' }));
    const second = within(review).getByLabelText('Section 2 title');
    fireEvent.change(second, { target: { value: '  ' } });
    expect(within(review).getByRole('button', { name: 'Approve' }).hasAttribute('disabled')).toBe(true);
    fireEvent.change(second, { target: { value: 'Gravity, gently' } });
    fireEvent.click(within(review).getByRole('button', { name: 'Remove section 3' }));
    fireEvent.click(within(review).getByRole('button', { name: 'Approve' }));
    await waitFor(() => expect(signals(calls)).toHaveLength(1));
    expect(signals(calls)[0].url).toBe(`/jobs/${ID}/signals/approve`);
    expect(signals(calls)[0].body).toEqual({ outline: ['Why tides happen', 'Gravity, gently'] });
    // the job goes back to its queue: the review disappears
    await waitFor(() => expect(screen.queryByRole('form', { name: 'Review the outline' })).toBeNull());
    expect(screen.getByRole('status').textContent).toContain('Waiting for a worker');
  });

  it('approves as is, or rejects with a reason', async () => {
    const { calls } = api(WAITING);
    const { unmount } = render(<JobFollower id={ID} />);
    const review = await screen.findByRole('form', { name: 'Review the outline' });
    await within(review).findByRole('list', { name: 'Outline' });
    fireEvent.click(within(review).getByRole('button', { name: 'Approve' }));
    await waitFor(() => expect(signals(calls)).toHaveLength(1));
    expect(signals(calls)[0].body).toEqual({});
    unmount();

    const second = api(WAITING);
    render(<JobFollower id={ID} />);
    const again = await screen.findByRole('form', { name: 'Review the outline' });
    fireEvent.click(within(again).getByRole('button', { name: 'Reject' }));
    fireEvent.change(within(again).getByLabelText('Reason'), { target: { value: 'too technical' } });
    fireEvent.click(within(again).getByRole('button', { name: 'Reject' }));
    await waitFor(() => expect(signals(second.calls)).toHaveLength(1));
    expect(signals(second.calls)[0].body).toEqual({ reject: 'too technical' });
  });

  it('keeps the bar where it was when the job runs again after the wait', async () => {
    const { state } = api({ status: 'running', progress: 5 }, { stream: true });
    render(<JobFollower id={ID} />);
    await waitFor(() => expect(FakeStream.instances).toHaveLength(1));
    const es = FakeStream.last();
    state.record = job({ id: ID, ...WAITING });
    await act(async () => {
      es.emit({ type: 'progress', progress: 10, message: 'Outline ready: waiting for your approval' }, undefined, '1-0');
      es.emit({ type: 'status', status: 'waiting', attempt: 1, waiting_for: { name: 'approve' } }, undefined, '2-0');
      await flush();
    });
    await waitFor(() => expect(screen.getByRole('status').textContent).toContain('Waiting for your approval'));
    // resumed: the claim rebuilds the record with progress 0, the stream says queued, running
    state.record = job({ id: ID, status: 'running', progress: 0, message: null });
    await act(async () => {
      es.emit({ type: 'status', status: 'queued', attempt: 1 }, undefined, '3-0');
      es.emit({ type: 'status', status: 'running', attempt: 1 }, undefined, '4-0');
      await flush();
    });
    await waitFor(() => expect(screen.getByRole('status').textContent).toContain('Running'));
    expect(bar().getAttribute('aria-valuenow')).toBe('10');
  });
});

describe('JobDetailPage', () => {
  it('lists a finished job’s steps and re-runs it from one of them', async () => {
    nav.id = ID;
    nav.push.mockClear();
    const steps = [
      { name: 'outline', result: OUTLINE },
      { name: 'wait:approve', result: {} },
      { name: 'section-1', result: { text: 'Tides rise twice a day.', provider: 'offline' } },
    ];
    const { calls } = api({ status: 'succeeded', progress: 100, replay_of: 'ORIGINAL1', result: { ok: true } }, { steps });
    render(<JobDetailPage />);
    const list = await screen.findByRole('list', { name: 'Steps' });
    expect(within(list).getAllByRole('listitem')).toHaveLength(3);
    expect(within(list).getByText('Tides rise twice a day.')).toBeTruthy();
    expect(screen.getByRole('link', { name: 'ORIGINAL1' }).getAttribute('href')).toMatch(/^\/job\/?\?id=ORIGINAL1$/);
    fireEvent.click(within(list).getByRole('button', { name: 'Re-run from section-1' }));
    await waitFor(() => expect(nav.push).toHaveBeenCalledWith('/job/?id=NEWJOB'));
    const replay = calls.find((c) => c.url === `/jobs/${ID}/replay`)!;
    expect(replay.method).toBe('POST');
    expect(replay.body).toEqual({ from_step: 'section-1' });
  });

  it('offers a JSON box for a signal other than approve', async () => {
    nav.id = ID;
    const { calls } = api({ status: 'waiting', type: 'deploy', waiting_for: { name: 'go-live', until: null } });
    render(<JobDetailPage />);
    const form = await screen.findByRole('form', { name: 'Send a signal' });
    expect(screen.getAllByText('go-live').length).toBeGreaterThan(0);
    const box = within(form).getByLabelText('Body (JSON)');
    fireEvent.change(box, { target: { value: '{oops' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Send signal' }));
    expect((await within(form).findByRole('alert')).textContent).toContain('not valid JSON');
    fireEvent.change(box, { target: { value: '{"region": "eu"}' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Send signal' }));
    await waitFor(() => expect(signals(calls)).toHaveLength(1));
    expect(signals(calls)[0].url).toBe(`/jobs/${ID}/signals/go-live`);
    expect(signals(calls)[0].body).toEqual({ region: 'eu' });
  });
});

describe('helpers', () => {
  it('read the outline and summarise steps', () => {
    expect(outlineTitles([{ name: 'outline', result: OUTLINE }])).toEqual(['Why tides happen', 'The moon and the sun', 'Living with tides']);
    expect(outlineTitles([{ name: 'draft', result: 'x' }])).toBeNull();
    expect(stepSummary({ title: 'A title', provider: 'x' })).toBe('A title');
    expect(stepSummary(OUTLINE)).toBe('Why tides happen · The moon and the sun · Living with tides');
    expect(stepSummary('a'.repeat(200)).length).toBe(90);
  });

  it('StatusBadge knows waiting', () => {
    render(<StatusBadge status="waiting" />);
    expect(screen.getByText('waiting').getAttribute('title')).toMatch(/signal/);
  });
});
