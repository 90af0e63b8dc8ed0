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
    const at = e.ts ?? e.receivedAt;
    const key = e.eventId ?? String(i);
    if (e.type === 'partial') {
      const last = items[items.length - 1];
      partials = last?.type === 'partial' ? partials + 1 : 1;
      chars = typeof e.text === 'string' ? e.text.length : chars + (typeof e.delta === 'string' ? e.delta.length : 0);
      const text = `partial text: ${partials} update${partials > 1 ? 's' : ''}, ${chars} characters`;
      if (last?.type === 'partial') items[items.length - 1] = { ...last, text };
      else items.push({ key, at, type: 'partial', text });
      return;
    }
    let text: string;
    if (e.type === 'progress') text = `${e.progress ?? '?'}%${e.message ? ` – ${e.message}` : ''}`;
    else if (e.type === 'status') text = `${e.status ?? '?'}${e.message ? ` – ${e.message}` : ''}`;
    else text = e.message ?? JSON.stringify(Object.fromEntries(Object.entries(e).filter(([k]) => k !== 'receivedAt' && k !== 'eventId')));
    items.push({ key, at, type: e.type, text });
  });
  return items;
}
