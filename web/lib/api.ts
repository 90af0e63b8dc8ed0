// Typed client for the agentq HTTP API (CONTRACT §3-§4). The UI is served by the
// API itself, so every call is a relative URL on the same origin.

export type JobStatus = 'queued' | 'scheduled' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export const JOB_STATUSES: JobStatus[] = ['queued', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled'];

export const TERMINAL: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled']);

export function isTerminal(status: string | undefined | null): boolean {
  return status != null && TERMINAL.has(status);
}

export interface JobError {
  type: 'exception' | 'timeout' | 'lost' | 'cancelled' | 'invalid' | string;
  message: string;
}

export interface JobRecord {
  id: string;
  type: string;
  queue: string;
  status: JobStatus;
  progress: number;
  message: string | null;
  payload: unknown;
  result: unknown;
  error: JobError | null;
  attempt: number;
  max_attempts: number;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  worker: string | null;
}

export interface ArticlePayload {
  topic: string;
  language: string;
  level: string;
  length: 'short' | 'medium' | 'long';
}

export interface ArticleResult {
  title: string;
  markdown: string;
  words: number;
  provider: string;
}

export interface SubmitRequest {
  type: string;
  payload: unknown;
  queue?: string;
  max_attempts?: number;
  timeout_s?: number;
  delay_s?: number;
  idempotency_key?: string;
}

export interface JobsPage {
  jobs: JobRecord[];
  next_before: string | null;
}

export interface QueueStats {
  name: string;
  queued: number;
  running: number;
  enqueued: number;
  succeeded: number;
  failed: number;
  retried: number;
  recovered: number;
  cancelled: number;
}

export interface QueuesResponse {
  queues: QueueStats[];
  scheduled: number;
  dead: number;
  workers: number;
}

export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  jobs: string[];
  last_heartbeat: string;
}

export interface WorkersResponse {
  workers: WorkerInfo[];
}

/** One item of FastAPI's 422 body: {"detail": [{"loc": [...], "msg": "..."}]}. */
export interface FieldError {
  loc: (string | number)[];
  msg: string;
  type?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly detail: unknown;

  constructor(status: number, detail: unknown, fallback: string) {
    super(describeDetail(detail) ?? fallback);
    this.name = 'ApiError';
    this.status = status;
    this.detail = detail;
  }

  /** The validation errors of a 422 answer, empty for any other error. */
  get fieldErrors(): FieldError[] {
    if (!Array.isArray(this.detail)) return [];
    return this.detail.filter(
      (d): d is FieldError => d != null && typeof d === 'object' && Array.isArray(d.loc) && typeof d.msg === 'string',
    );
  }
}

function describeDetail(detail: unknown): string | null {
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    const msgs = detail
      .map((d) => (d && typeof d === 'object' && 'msg' in d ? String((d as FieldError).msg) : null))
      .filter(Boolean);
    if (msgs.length) return msgs.join('; ');
  }
  return null;
}

async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
    });
  } catch (err) {
    if ((err as Error)?.name === 'AbortError') throw err;
    throw new ApiError(0, null, 'The API cannot be reached');
  }
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const detail = data && typeof data === 'object' && 'detail' in data ? (data as { detail: unknown }).detail : null;
    throw new ApiError(res.status, detail, `${method} ${path} failed with HTTP ${res.status}`);
  }
  return data as T;
}

const enc = encodeURIComponent;

export const api = {
  submitJob: (req: SubmitRequest) => request<JobRecord>('POST', '/jobs', req),
  getJob: (id: string, signal?: AbortSignal) => request<JobRecord>('GET', `/jobs/${enc(id)}`, undefined, signal),
  cancelJob: (id: string) => request<unknown>('POST', `/jobs/${enc(id)}/cancel`),
  retryJob: (id: string) => request<unknown>('POST', `/jobs/${enc(id)}/retry`),
  listJobs: (q: { status?: string; type?: string; limit?: number; before?: string | null }, signal?: AbortSignal) => {
    const params = new URLSearchParams();
    if (q.status) params.set('status', q.status);
    if (q.type) params.set('type', q.type);
    if (q.limit) params.set('limit', String(q.limit));
    if (q.before) params.set('before', q.before);
    const qs = params.toString();
    return request<JobsPage>('GET', qs ? `/jobs?${qs}` : '/jobs', undefined, signal);
  },
  getQueues: (signal?: AbortSignal) => request<QueuesResponse>('GET', '/queues', undefined, signal),
  getWorkers: (signal?: AbortSignal) => request<WorkersResponse>('GET', '/workers', undefined, signal),
  eventsUrl: (id: string) => `/jobs/${enc(id)}/events`,
};
