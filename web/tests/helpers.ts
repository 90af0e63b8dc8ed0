import { vi } from 'vitest';
import type { JobRecord } from '@/lib/api';

export class FakeEventSource {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;
  static instances: FakeEventSource[] = [];
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSED = 2;
  url: string;
  readyState = 0;
  onopen: ((e: Event) => void) | null = null;
  onerror: ((e: Event) => void) | null = null;
  private listeners = new Map<string, Set<(e: MessageEvent) => void>>();

  constructor(url: string) {
    this.url = url;
    FakeEventSource.instances.push(this);
  }
  addEventListener(type: string, fn: (e: MessageEvent) => void) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type)!.add(fn);
  }
  removeEventListener(type: string, fn: (e: MessageEvent) => void) {
    this.listeners.get(type)?.delete(fn);
  }
  close() {
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  /** deliver one server event; `name` is the SSE `event:` field (default "message") */
  emit(data: unknown, name = 'message', id = '') {
    if (this.readyState === 2) return;
    const ev = new MessageEvent(name, { data: JSON.stringify(data), lastEventId: id });
    this.listeners.get(name)?.forEach((fn) => fn(ev));
  }
  fail(closed = false) {
    this.readyState = closed ? 2 : 0;
    this.onerror?.(new Event('error'));
  }
  static last(): FakeEventSource {
    const es = FakeEventSource.instances[FakeEventSource.instances.length - 1];
    if (!es) throw new Error('no EventSource was opened');
    return es;
  }
}

export function job(over: Partial<JobRecord> = {}): JobRecord {
  return {
    id: '01JOBTEST0000000000000000A',
    type: 'generate_article',
    queue: 'default',
    status: 'running',
    progress: 0,
    message: null,
    payload: { topic: 'Redis' },
    result: null,
    error: null,
    attempt: 1,
    max_attempts: 3,
    created_at: '2026-01-01T10:00:00.000Z',
    started_at: '2026-01-01T10:00:01.000Z',
    finished_at: null,
    worker: 'host-1-ab',
    ...over,
  };
}

export interface Call {
  method: string;
  url: string;
  body: unknown;
}

type Handler = (call: Call) => { status?: number; body?: unknown } | undefined;

/** Replace fetch with a router; returns the list of calls made. */
export function mockFetch(handler: Handler): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const call = { method: init.method ?? 'GET', url: String(url), body: init.body ? JSON.parse(String(init.body)) : undefined };
      calls.push(call);
      const res = handler(call) ?? { status: 404, body: { detail: 'Not Found' } };
      const status = res.status ?? 200;
      return new Response(res.body === undefined ? '' : JSON.stringify(res.body), {
        status,
        headers: { 'Content-Type': 'application/json' },
      });
    }),
  );
  return calls;
}
