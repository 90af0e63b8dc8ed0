// Follows GET /jobs/{id}/events (Server-Sent Events). Each event's data is JSON such
// as {"type":"partial","text":"..."}, {"type":"progress","progress":40,"message":"..."}
// or {"type":"status","status":"succeeded"}. The stream ends after the terminal event.
//
// The browser's EventSource cannot send headers, and with AGENTQ_API_KEYS set the stream
// needs `Authorization: Bearer <key>` like every /jobs call: so the stream is read with
// fetch (@microsoft/fetch-event-source), which sends the key, resumes with
// `Last-Event-ID` after a dropped connection, and is stopped here after the terminal
// event. If it fails, polling (lib/poll.ts) carries on alone.

import { fetchEventSource, type EventSourceMessage } from '@microsoft/fetch-event-source';
import { isTerminal } from './api';
import { apiKey, authHeaders, authRefused } from './auth';

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

/** The stream cannot work (refused key, unknown job, not an event stream): stop, do not retry. */
class StreamRefused extends Error {}
/** The server ended the stream before the terminal event: reconnect with Last-Event-ID. */
class StreamEnded extends Error {}

export interface StreamOptions {
  /** failed connections in a row before giving up (default 3) */
  maxFailures?: number;
  /** start after this event id (Last-Event-ID) instead of from the job's first event */
  after?: string | null;
}

export function openJobStream(url: string, handlers: StreamHandlers, opts: StreamOptions = {}): JobStream {
  const { maxFailures = 3, after } = opts;
  const abort = new AbortController();
  const key = apiKey();
  let closed = false;
  let failures = 0;
  let ended = false;
  let quietTimer: ReturnType<typeof setTimeout> | null = null;
  handlers.onState('connecting');

  const close = (state?: StreamState) => {
    if (closed) return;
    closed = true;
    if (quietTimer) clearTimeout(quietTimer);
    abort.abort();
    if (state) handlers.onState(state);
  };

  fetchEventSource(url, {
    signal: abort.signal,
    headers: { ...authHeaders(key), ...(after ? { 'last-event-id': after } : {}) },
    // Keep following while the tab is hidden, as EventSource does (polling backs off then).
    openWhenHidden: true,
    // The fetch of this moment (tests replace it), not the one seen when the module loaded.
    fetch: (input, init) => fetch(input, init),
    async onopen(res) {
      if (res.status === 401) {
        authRefused(key);
        throw new StreamRefused('API key refused');
      }
      // Busy or briefly unavailable: try again, like any dropped connection.
      if (res.status === 429 || res.status >= 500) throw new Error(`HTTP ${res.status}`);
      if (!res.ok || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        throw new StreamRefused(`HTTP ${res.status}`);
      }
      if (!closed) handlers.onState('live');
    },
    onmessage(msg: EventSourceMessage) {
      if (closed) return;
      failures = 0;
      const event = parseJobEvent(msg.data, msg.event || 'message', msg.id);
      if (!event) return;
      handlers.onEvent(event);
      if (event.type === 'status' && isTerminal(event.status)) {
        ended = true;
        close('ended');
      }
    },
    onclose() {
      if (closed) return;
      if (ended) return close('ended');
      throw new StreamEnded('the stream ended early');
    },
    onerror(err) {
      if (closed) throw err;
      if (ended) {
        close('ended');
        throw err;
      }
      if (err instanceof StreamRefused) {
        close('failed');
        throw err;
      }
      failures += 1;
      if (failures >= maxFailures) {
        close('failed');
        throw err;
      }
      return Math.min(1000 * 2 ** (failures - 1), 8000);
    },
  }).catch(() => close('failed'));

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
