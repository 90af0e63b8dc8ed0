// What the UI knows about one job, merged from two sources: the polled record (the
// truth) and the event stream (faster, and the only source of partial text).

import { isTerminal, type JobRecord } from './api';
import type { JobEvent } from './events';

export interface FollowState {
  record: JobRecord | null;
  status: string | null;
  progress: number;
  message: string;
  /** article text streamed so far by the running attempt */
  partial: string;
  attempt: number | null;
  events: JobEvent[];
}

export const initialFollow: FollowState = {
  record: null,
  status: null,
  progress: 0,
  message: '',
  partial: '',
  attempt: null,
  events: [],
};

export type FollowAction = { kind: 'record'; record: JobRecord } | { kind: 'event'; event: JobEvent } | { kind: 'reset' };

const MAX_EVENTS = 500;

const clamp = (n: number) => Math.max(0, Math.min(100, Math.round(n)));

/**
 * A new attempt (an automatic retry) starts from zero again. Records can arrive late
 * (a poll answer overtaken by the stream), so for them only a changed attempt number
 * counts; the stream is ordered, so a status event going back to queued/scheduled does.
 */
function restarted(state: FollowState, status: string, attempt: number | null, ordered: boolean): boolean {
  if (attempt != null && state.attempt != null && attempt !== state.attempt) return true;
  if (!ordered) return false;
  const wasActive = state.status === 'running' || isTerminal(state.status);
  return wasActive && (status === 'queued' || status === 'scheduled');
}

export function followReducer(state: FollowState, action: FollowAction): FollowState {
  switch (action.kind) {
    case 'reset':
      return initialFollow;
    case 'record': {
      const r = action.record;
      const fresh = restarted(state, r.status, r.attempt, false);
      // A late answer from before the end: the stream already said it is over.
      if (!fresh && isTerminal(state.status) && !isTerminal(r.status)) return state;
      const base = fresh ? { ...state, progress: 0, partial: '' } : state;
      let progress = Math.max(base.progress, clamp(r.progress ?? 0));
      if (r.status === 'succeeded') progress = 100;
      return {
        ...base,
        record: r,
        status: r.status,
        attempt: r.attempt ?? base.attempt,
        progress,
        message: r.message ?? (fresh ? '' : base.message),
      };
    }
    case 'event': {
      const e = action.event;
      const events = state.events.length >= MAX_EVENTS ? [...state.events.slice(1), e] : [...state.events, e];
      const next: FollowState = { ...state, events };
      if (e.type === 'progress' && typeof e.progress === 'number') {
        next.progress = Math.max(state.progress, clamp(e.progress));
        if (typeof e.message === 'string') next.message = e.message;
      } else if (e.type === 'partial') {
        // Each partial event carries the next piece of text; the stream replays them
        // all from the start, so a reloaded page rebuilds the whole draft.
        const piece = typeof e.text === 'string' ? e.text : typeof e.delta === 'string' ? e.delta : '';
        next.partial = state.partial + piece;
      } else if (e.type === 'status' && typeof e.status === 'string') {
        if (restarted(state, e.status, typeof e.attempt === 'number' ? e.attempt : null, true)) {
          next.progress = 0;
          next.partial = '';
        }
        next.status = e.status;
        if (e.status === 'succeeded') next.progress = 100;
        if (typeof e.message === 'string') next.message = e.message;
      }
      return next;
    }
  }
}
