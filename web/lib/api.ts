// Typed client for the agentq HTTP API (CONTRACT §3-§4). The UI is served by the
// API itself, so every call is a relative URL on the same origin. Every call carries
// the API key when the UI has one; a 401 hands over to the sign-in form.

import { apiKey, authHeaders, authNotRequired, authRefused } from './auth';
import { statusValues, type components } from './api-types';

// The API's own shapes, generated from its OpenAPI schema into api-types.ts
// (`make web-types`); only task-specific payloads and results are written here.
type Schemas = components['schemas'];

export type JobStatus = Schemas['Status'];
export type JobError = Schemas['JobErrorPublic'];
export type JobRecord = Schemas['JobPublic'];
export type SubmitRequest = Schemas['JobCreate'];
export type JobsPage = Schemas['JobsPublic'];
export type QueueStats = Schemas['QueueStats'];
export type QueuesResponse = Schemas['QueuesPublic'];
export type WorkerInfo = Schemas['WorkerPublic'];
export type WorkersResponse = Schemas['WorkersPublic'];
export type ScheduleInfo = Schemas['SchedulePublic'];
export type SchedulesResponse = Schemas['SchedulesPublic'];
/** GET /usage: LLM tokens per tenant and model over the last minutes (Dashboard). */
export type UsageResponse = Schemas['UsagePerTenant'];
export type UsageRow = Schemas['UsageRow'];
/** GET /history/stats: jobs per hour by status and run times per task type (Dashboard). */
export type HistoryStats = Schemas['HistoryStats'];
export type HourCounts = Schemas['HourCounts'];
export type RunTimes = Schemas['RunTimes'];
/** GET /jobs/{id}/steps: a job's stored steps in completion order (`wait:{name}` for a signal a wait returned). */
export type JobStep = Schemas['StepPublic'];
export type JobSteps = Schemas['StepsPublic'];
/** What a `waiting` job waits for (`ctx.wait_for`). */
export type WaitingFor = Schemas['WaitingFor'];
/** One item of FastAPI's 422 body: {"detail": [{"loc": [...], "msg": "..."}]}. */
export type FieldError = Schemas['ValidationError'];

export const JOB_STATUSES: readonly JobStatus[] = statusValues;

export const TERMINAL: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled']);

export function isTerminal(status: string | undefined | null): boolean {
  return status != null && TERMINAL.has(status);
}

/** The payload of a generate_article job (the task's model; task payloads are not in the schema). */
export interface ArticlePayload {
  topic: string;
  language: string;
  level: string;
  length: 'short' | 'medium' | 'long';
  /** wait after the outline for Approve / Edit / Reject (the `approve` signal) */
  review?: boolean;
}

/** The result of a generate_article job. */
export interface ArticleResult {
  title: string;
  markdown: string;
  words: number;
  provider: string;
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

/** Headers of every call: JSON, and the API key when the UI has one (lib/auth.ts). */
export function requestHeaders(key: string | null, json: boolean): Record<string, string> {
  return { Accept: 'application/json', ...(json ? { 'Content-Type': 'application/json' } : {}), ...authHeaders(key) };
}

async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal, key = apiKey()): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: requestHeaders(key, body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
    });
  } catch (err) {
    if ((err as Error)?.name === 'AbortError') throw err;
    throw new ApiError(0, null, 'The API cannot be reached');
  }
  // A refused (or missing) key: the sign-in form takes over (components/AuthGate.tsx).
  if (res.status === 401) authRefused(key);
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
  /** POST /jobs/{id}/signals/{name}: any JSON body for the task's `ctx.wait_for(name)`. */
  signal: (id: string, name: string, body: unknown = {}) =>
    request<JobRecord>('POST', `/jobs/${enc(id)}/signals/${enc(name)}`, body ?? {}),
  steps: (id: string, signal?: AbortSignal) => request<JobSteps>('GET', `/jobs/${enc(id)}/steps`, undefined, signal),
  /** POST /jobs/{id}/replay: a new job running the task again from `fromStep` (the original's payload unless given). */
  replay: (id: string, fromStep: string, payload?: unknown) =>
    request<JobRecord>('POST', `/jobs/${enc(id)}/replay`, payload === undefined ? { from_step: fromStep } : { from_step: fromStep, payload }),
  listJobs: (q: { status?: string; type?: string; q?: string; limit?: number; before?: string | null }, signal?: AbortSignal) => {
    const params = new URLSearchParams();
    if (q.status) params.set('status', q.status);
    if (q.type) params.set('type', q.type);
    if (q.q) params.set('q', q.q);
    if (q.limit) params.set('limit', String(q.limit));
    if (q.before) params.set('before', q.before);
    const qs = params.toString();
    return request<JobsPage>('GET', qs ? `/jobs?${qs}` : '/jobs', undefined, signal);
  },
  getQueues: (signal?: AbortSignal) => request<QueuesResponse>('GET', '/queues', undefined, signal),
  getWorkers: (signal?: AbortSignal) => request<WorkersResponse>('GET', '/workers', undefined, signal),
  getSchedules: (signal?: AbortSignal) => request<SchedulesResponse>('GET', '/schedules', undefined, signal),
  getUsage: (signal?: AbortSignal) => request<UsageResponse>('GET', '/usage?minutes=60', undefined, signal),
  getHistoryStats: (hours: number, signal?: AbortSignal) =>
    request<HistoryStats>('GET', `/history/stats?hours=${hours}`, undefined, signal),
  eventsUrl: (id: string) => `/jobs/${enc(id)}/events`,
  /**
   * Does the API take this key (null: no key)? Asks for one job, which needs a key when
   * AGENTQ_API_KEYS is set: true on 2xx, false on 401; other errors are thrown.
   */
  async checkKey(key: string | null, signal?: AbortSignal): Promise<boolean> {
    try {
      await request<JobsPage>('GET', '/jobs?limit=1', undefined, signal, key);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return false;
      throw err;
    }
    if (!key) authNotRequired();
    return true;
  },
};
