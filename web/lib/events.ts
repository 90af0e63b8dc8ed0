// Follows GET /jobs/{id}/events (Server-Sent Events). Each event's data is JSON such
// as {"type":"partial","text":"..."}, {"type":"progress","progress":40,"message":"..."}
// or {"type":"status","status":"succeeded"}. The stream ends after the terminal event;
// we close it then, because EventSource would otherwise reconnect forever.

import { isTerminal } from './api';

export interface JobEvent {
  type: string;
  /** SSE `id:` of the event, when the server set one */
  eventId?: string;
  status?: string;
  progress?: number;
  message?: string;
  text?: string;
  delta?: string;
  /** when the worker wrote it (ISO time) */
  at?: string;
  /** when this page received it (ms since epoch) */
  receivedAt: number;
  [key: string]: unknown;
}

export type StreamState = 'connecting' | 'live' | 'ended' | 'failed';

export interface StreamHandlers {
  onEvent(event: JobEvent): void;
  onState(state: StreamState): void;
}

export interface JobStream {
  close(): void;
  /** tell the stream the job is over (from polling): closes it once the stream goes quiet */
  jobEnded(): void;
}

// Named events are not delivered to onmessage, so listen for the names a server may use.
const EVENT_NAMES = ['message', 'progress', 'partial', 'status', 'result', 'log'];

export function parseJobEvent(data: string, name: string, eventId: string | undefined, now = Date.now()): JobEvent | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return null;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const obj = parsed as Record<string, unknown>;
  const type = typeof obj.type === 'string' ? obj.type : name !== 'message' ? name : 'message';
  return { ...obj, type, eventId: eventId || undefined, receivedAt: now } as JobEvent;
}

export function openJobStream(url: string, handlers: StreamHandlers, maxFailures = 3): JobStream {
  if (typeof EventSource === 'undefined') {
    handlers.onState('failed');
    return { close() {}, jobEnded() {} };
  }
  const es = new EventSource(url);
  let closed = false;
  let failures = 0;
  let ended = false;
  let quietTimer: ReturnType<typeof setTimeout> | null = null;
  handlers.onState('connecting');

  const close = (state?: StreamState) => {
    if (closed) return;
    closed = true;
    if (quietTimer) clearTimeout(quietTimer);
    es.close();
    if (state) handlers.onState(state);
  };

  const onMessage = (ev: MessageEvent) => {
    if (closed) return;
    failures = 0;
    const event = parseJobEvent(String(ev.data), ev.type, ev.lastEventId);
    if (!event) return;
    handlers.onEvent(event);
    if (event.type === 'status' && isTerminal(event.status)) {
      ended = true;
      close('ended');
    }
  };

  for (const name of EVENT_NAMES) es.addEventListener(name, onMessage as EventListener);
  es.onopen = () => {
    if (!closed) handlers.onState('live');
  };
  es.onerror = () => {
    if (closed) return;
    if (ended) return close('ended');
    failures += 1;
    // CLOSED: the server refused the stream (e.g. 404 or not text/event-stream).
    if (es.readyState === EventSource.CLOSED || failures >= maxFailures) close('failed');
  };

  return {
    close: () => close(),
    jobEnded() {
      if (closed || ended) return;
      ended = true;
      // Let buffered events arrive, then stop the stream from reconnecting.
      quietTimer = setTimeout(() => close('ended'), 3000);
    },
  };
}
