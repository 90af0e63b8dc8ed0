import type { JobRecord } from './api';
import type { JobEvent } from './events';

export interface TimelineItem {
  key: string;
  at: string | number;
  type: string;
  text: string;
}

/** Events as timeline lines; consecutive partial-text events fold into one line. */
export function timeline(events: JobEvent[]): TimelineItem[] {
  const items: TimelineItem[] = [];
  let partials = 0;
  let chars = 0;
  events.forEach((e, i) => {
    const at = e.at ?? e.receivedAt;
    const key = e.eventId ?? String(i);
    if (e.type === 'partial') {
      const last = items[items.length - 1];
      const piece = typeof e.text === 'string' ? e.text : typeof e.delta === 'string' ? e.delta : '';
      const folding = last?.type === 'partial';
      partials = folding ? partials + 1 : 1;
      chars = (folding ? chars : 0) + piece.length;
      const text = `partial text: ${partials} update${partials > 1 ? 's' : ''}, ${chars} characters`;
      if (last?.type === 'partial') items[items.length - 1] = { ...last, text };
      else items.push({ key, at, type: 'partial', text });
      return;
    }
    let text: string;
    if (e.type === 'progress') text = `${e.progress ?? '?'}%${e.message ? ` – ${e.message}` : ''}`;
    else if (e.type === 'status') {
      const err = e.error as { message?: string } | null | undefined;
      const detail = err?.message ?? e.message;
      text = `${e.status ?? '?'}${detail ? ` – ${detail}` : ''}`;
    }
    else text = e.message ?? JSON.stringify(Object.fromEntries(Object.entries(e).filter(([k]) => !['receivedAt', 'eventId', 'at'].includes(k))));
    items.push({ key, at, type: e.type, text });
  });
  return items;
}

/**
 * The timeline of a job whose event stream is gone (an archived job: Redis no longer
 * holds it), rebuilt from its record: created, started (the last attempt), ended.
 */
export function recordTimeline(record: JobRecord): TimelineItem[] {
  const items: TimelineItem[] = [];
  if (record.created_at) items.push({ key: 'created', at: record.created_at, type: 'status', text: 'created' });
  if (record.started_at) {
    const on = record.worker ? ` on ${record.worker}` : '';
    items.push({ key: 'started', at: record.started_at, type: 'status', text: `running – attempt ${record.attempt} of ${record.max_attempts}${on}` });
  }
  if (record.finished_at) {
    const detail = record.error?.message ? ` – ${record.error.message}` : '';
    items.push({ key: 'finished', at: record.finished_at, type: 'status', text: `${record.status}${detail}` });
  }
  return items;
}
