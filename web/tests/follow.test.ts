import { describe, expect, it } from 'vitest';
import { followReducer, initialFollow, type FollowState } from '@/lib/follow';
import type { JobEvent } from '@/lib/events';
import { job } from './helpers';

const ev = (e: Partial<JobEvent>): JobEvent => ({ type: 'message', receivedAt: 0, ...e }) as JobEvent;
const run = (actions: Parameters<typeof followReducer>[1][], from: FollowState = initialFollow) => actions.reduce(followReducer, from);

describe('followReducer', () => {
  it('never moves the bar backwards within an attempt, whatever source is late', () => {
    const s = run([
      { kind: 'event', event: ev({ type: 'progress', progress: 60, message: 'Drafting' }) },
      { kind: 'record', record: job({ progress: 40, message: 'Outline' }) },
    ]);
    expect(s.progress).toBe(60);
    const s2 = run([{ kind: 'event', event: ev({ type: 'progress', progress: 30 }) }], s);
    expect(s2.progress).toBe(60);
  });

  it('shows 100 on success even if the last progress was lower', () => {
    const s = run([
      { kind: 'record', record: job({ progress: 80 }) },
      { kind: 'event', event: ev({ type: 'status', status: 'succeeded' }) },
    ]);
    expect(s.progress).toBe(100);
    expect(s.status).toBe('succeeded');
  });

  it('appends the pieces of partial text in order', () => {
    const s = run([
      { kind: 'event', event: ev({ type: 'partial', text: '## Intro\n\n' }) },
      { kind: 'event', event: ev({ type: 'partial', text: 'Hello' }) },
      { kind: 'event', event: ev({ type: 'partial', text: ', world' }) },
      { kind: 'event', event: ev({ type: 'progress', progress: 20 }) },
      { kind: 'event', event: ev({ type: 'partial', text: '!' }) },
    ]);
    expect(s.partial).toBe('## Intro\n\nHello, world!');
  });

  it('starts from zero when a new attempt begins', () => {
    const s = run([
      { kind: 'record', record: job({ progress: 70, attempt: 1 }) },
      { kind: 'event', event: ev({ type: 'partial', text: 'draft' }) },
      { kind: 'record', record: job({ status: 'running', progress: 10, attempt: 2 }) },
    ]);
    expect(s.progress).toBe(10);
    expect(s.partial).toBe('');
    const viaStream = run([
      { kind: 'event', event: ev({ type: 'progress', progress: 50 }) },
      { kind: 'event', event: ev({ type: 'status', status: 'running' }) },
      { kind: 'event', event: ev({ type: 'status', status: 'scheduled' }) },
    ]);
    expect(viaStream.progress).toBe(0);
  });

  it('ignores a late poll answer from before the end, and a stale queued record', () => {
    const done = run([
      { kind: 'record', record: job({ progress: 60 }) },
      { kind: 'event', event: ev({ type: 'status', status: 'succeeded' }) },
      { kind: 'record', record: job({ status: 'running', progress: 80 }) },
    ]);
    expect(done.status).toBe('succeeded');
    expect(done.progress).toBe(100);
    const running = run([
      { kind: 'event', event: ev({ type: 'status', status: 'running' }) },
      { kind: 'event', event: ev({ type: 'partial', text: 'Intro' }) },
      { kind: 'record', record: job({ status: 'queued', progress: 0 }) },
    ]);
    expect(running.partial).toBe('Intro');
  });

  it('keeps a timeline of every event', () => {
    const s = run([
      { kind: 'event', event: ev({ type: 'status', status: 'running' }) },
      { kind: 'event', event: ev({ type: 'progress', progress: 10 }) },
    ]);
    expect(s.events.map((e) => e.type)).toEqual(['status', 'progress']);
  });
});

describe('timeline', () => {
  it('uses the worker time, folds partial text and names the error of a failure', async () => {
    const { timeline } = await import('@/lib/timeline');
    const items = timeline([
      ev({ type: 'status', status: 'running', at: '2026-01-01T10:00:00.000Z', eventId: '1-0' }),
      ev({ type: 'partial', text: 'abc', eventId: '2-0' }),
      ev({ type: 'partial', text: 'de', eventId: '3-0' }),
      ev({ type: 'progress', progress: 40, message: 'Drafting', eventId: '4-0' }),
      ev({ type: 'status', status: 'failed', error: { type: 'exception', message: 'RuntimeError: boom' }, eventId: '5-0' }),
    ]);
    expect(items.map((i) => i.text)).toEqual([
      'running',
      'partial text: 2 updates, 5 characters',
      '40% – Drafting',
      'failed – RuntimeError: boom',
    ]);
    expect(items[0].at).toBe('2026-01-01T10:00:00.000Z');
  });
});
