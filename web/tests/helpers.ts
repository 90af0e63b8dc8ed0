import { vi } from 'vitest';
import type { JobRecord } from '@/lib/api';

/**
 * A server-sent event stream the test writes to: the answer to one fetch of
 * /jobs/{id}/events. `emit` sends one event, `end` closes the stream from the server side.
 */
export class FakeStream {
  static instances: FakeStream[] = [];
  readonly url: string;
  readonly headers: Headers;
  readonly signal: AbortSignal | undefined;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private readonly body: ReadableStream<Uint8Array>;
  private done = false;

  constructor(url: string, init: RequestInit = {}) {
    this.url = url;
    this.headers = new Headers(init.headers);
    this.signal = init.signal ?? undefined;
    this.body = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.controller = c;
      },
    });
    this.signal?.addEventListener('abort', () => this.end());
    FakeStream.instances.push(this);
  }

  response(): Response {
    return new Response(this.body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
  }

  /** true once the client closed (aborted) its request */
  get aborted(): boolean {
    return this.signal?.aborted ?? false;
  }

  /** deliver one server event; `name` is the SSE `event:` field (default none: "message") */
  emit(data: unknown, name?: string, id?: string) {
    if (this.done) return;
    const lines = [...(name ? [`event: ${name}`] : []), ...(id ? [`id: ${id}`] : []), `data: ${JSON.stringify(data)}`];
    this.controller.enqueue(new TextEncoder().encode(`${lines.join('\n')}\n\n`));
  }

  /** the server ends the stream */
  end() {
    if (this.done) return;
    this.done = true;
    try {
      this.controller.close();
    } catch {
      // already closed by an abort
    }
  }

  static last(): FakeStream {
    const s = FakeStream.instances[FakeStream.instances.length - 1];
    if (!s) throw new Error('no event stream was opened');
    return s;
  }
}

/** Let fetch answers and stream chunks reach the code under test. */
export async function flush(times = 10) {
  for (let i = 0; i < times; i += 1) await new Promise((r) => setTimeout(r, 0));
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
  headers: Headers;
}

type Handler = (call: Call, init: RequestInit) => { status?: number; body?: unknown } | Response | undefined;

/** Replace fetch with a router; returns the list of calls made. A handler may answer with a Response. */
export function mockFetch(handler: Handler): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const call = {
        method: init.method ?? 'GET',
        url: String(url),
        body: init.body ? JSON.parse(String(init.body)) : undefined,
        headers: new Headers(init.headers),
      };
      calls.push(call);
      const res = handler(call, init) ?? { status: 404, body: { detail: 'Not Found' } };
      if (res instanceof Response) return res;
      const status = res.status ?? 200;
      return new Response(res.body === undefined ? '' : JSON.stringify(res.body), {
        status,
        headers: { 'Content-Type': 'application/json' },
      });
    }),
  );
  return calls;
}

/** Answer GET /jobs/{id}/events with a new FakeStream (for mockFetch handlers). */
export function streamFor(call: Call, init: RequestInit): Response | undefined {
  if (call.method === 'GET' && /^\/jobs\/[^/?]+\/events$/.test(call.url)) return new FakeStream(call.url, init).response();
  return undefined;
}
