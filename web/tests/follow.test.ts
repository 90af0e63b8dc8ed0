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

  it('accepts partial text sent whole-so-far or as pieces', () => {
    const whole = run([
      { kind: 'event', event: ev({ type: 'partial', text: 'Hello' }) },
      { kind: 'event', event: ev({ type: 'partial', text: 'Hello world' }) },
    ]);
    expect(whole.partial).toBe('Hello world');
    const pieces = run([
      { kind: 'event', event: ev({ type: 'partial', text: 'Hello' }) },
      { kind: 'event', event: ev({ type: 'partial', text: ', world' }) },
      { kind: 'event', event: ev({ type: 'partial', delta: '!' }) },
    ]);
    expect(pieces.partial).toBe('Hello, world!');
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
