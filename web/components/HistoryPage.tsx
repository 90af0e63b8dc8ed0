'use client';

import Link from 'next/link';
import { useEffect, useId, useState } from 'react';
import { api, ApiError, JOB_STATUSES, type JobsPage } from '@/lib/api';
import { formatAgo, formatDuration, jobDuration } from '@/lib/format';
import { backoffInterval, startPolling } from '@/lib/poll';
import StatusBadge, { ArchivedBadge } from './StatusBadge';

const LIMITS = [20, 50, 100];

export default function HistoryPage() {
  const uid = useId();
  const [status, setStatus] = useState('');
  // the text search (payload and error message) and what is typed before it is applied
  const [q, setQ] = useState('');
  const [draft, setDraft] = useState('');
  const [limit, setLimit] = useState(20);
  // cursors[i] is the `before` of page i; page 0 is the newest (no cursor)
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [data, setData] = useState<JobsPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const page = cursors.length - 1;
  const before = cursors[page];

  useEffect(() => {
    setLoading(true);
    const poller = startPolling<JobsPage>({
      load: (signal) => api.listJobs({ status, q, limit, before }, signal),
      onData(d) {
        setData(d);
        setError(null);
        setLoading(false);
      },
      onError(err) {
        setError(err instanceof ApiError ? err.message : String(err));
        setLoading(false);
      },
      // The newest page refreshes itself so running jobs move on; older pages hold still.
      interval: (_last, ctx) => (before == null ? backoffInterval(ctx, 3000) : ctx.failures ? backoffInterval(ctx, 3000) : false),
    });
    return () => poller.stop();
  }, [status, q, limit, before]);

  const reset = () => {
    setCursors([null]);
    setData(null);
  };
  const now = Date.now();

  return (
    <>
      <h1>History</h1>
      <form
        className="toolbar"
        role="group"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          setQ(draft.trim());
          reset();
        }}
      >
        <div className="field inline">
          <label htmlFor={`${uid}-status`}>Status</label>
          <select
            id={`${uid}-status`}
            value={status}
            onChange={(e) => {
              setStatus(e.target.value);
              reset();
            }}
          >
            <option value="">all</option>
            {JOB_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="field inline">
          <label htmlFor={`${uid}-limit`}>Per page</label>
          <select
            id={`${uid}-limit`}
            value={limit}
            onChange={(e) => {
              setLimit(Number(e.target.value));
              reset();
            }}
          >
            {LIMITS.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <div className="field inline">
          <label htmlFor={`${uid}-q`}>Search</label>
          <input
            id={`${uid}-q`}
            type="search"
            value={draft}
            maxLength={200}
            placeholder="payload or error text"
            onChange={(e) => setDraft(e.target.value)}
          />
          <button type="submit">Search</button>
        </div>
      </form>

      {error && (
        <p className="alert alert-error" role="alert">
          {error}
        </p>
      )}

      <div className="table-wrap">
        <table className="jobs" aria-busy={loading}>
          <caption className="sr-only">Recent jobs, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Type</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col" className="num">
                Duration
              </th>
              <th scope="col" className="num">
                Attempt
              </th>
            </tr>
          </thead>
          <tbody>
            {data?.jobs.map((j) => {
              const d = jobDuration(j, now);
              return (
                <tr key={j.id}>
                  <td>
                    <Link className="job-id" href={`/job/?id=${encodeURIComponent(j.id)}`}>
                      {j.id}
                    </Link>
                  </td>
                  <td>{j.type}</td>
                  <td>
                    <StatusBadge status={j.status} />
                    {j.archived && <ArchivedBadge />}
                    {j.status === 'running' && <span className="muted small"> {j.progress}%</span>}
                  </td>
                  <td title={j.created_at ?? undefined}>{formatAgo(j.created_at, now)}</td>
                  <td className="num">{d == null ? '–' : formatDuration(d)}</td>
                  <td className="num">
                    {j.attempt}/{j.max_attempts}
                  </td>
                </tr>
              );
            })}
            {data && data.jobs.length === 0 && (
              <tr>
                <td colSpan={6} className="muted empty">
                  {q ? `No ${status ? `${status} ` : ''}jobs match “${q}”.` : status ? `No ${status} jobs.` : 'No jobs yet.'}
                </td>
              </tr>
            )}
            {!data && (
              <tr>
                <td colSpan={6} className="muted empty">
                  {loading ? 'Loading…' : 'Nothing to show.'}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>

      <nav className="pager" aria-label="Pages">
        <button type="button" onClick={() => setCursors((c) => c.slice(0, -1))} disabled={page === 0}>
          ← Newer
        </button>
        <span className="muted">Page {page + 1}</span>
        <button
          type="button"
          onClick={() => {
            const next = data?.next_before;
            if (next) setCursors((c) => [...c, next]);
          }}
          disabled={!data?.next_before}
        >
          Older →
        </button>
      </nav>
    </>
  );
}
