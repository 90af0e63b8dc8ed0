'use client';

import dynamic from 'next/dynamic';
import Link from 'next/link';
import { useState } from 'react';
import { api, ApiError, isTerminal, type ArticleResult } from '@/lib/api';
import { useJob } from '@/lib/useJob';
import ProgressBar from './ProgressBar';
import StatusBadge from './StatusBadge';

// The Markdown renderer is only needed once an article is done: keep it out of the first load.
const Article = dynamic(() => import('./Article'), {
  ssr: false,
  loading: () => <p className="muted">Rendering the article…</p>,
});

const STATUS_TEXT: Record<string, string> = {
  queued: 'Waiting for a worker',
  scheduled: 'Scheduled to run again',
  running: 'Running',
  waiting: 'Paused: waiting for a signal',
  succeeded: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

// Only a job that waits for a signal needs its controls: keep them out of the first load too.
const WaitingPanel = dynamic(() => import('./WaitingPanel'), { ssr: false });

function isArticle(r: unknown): r is ArticleResult {
  return !!r && typeof r === 'object' && typeof (r as ArticleResult).markdown === 'string';
}

export default function JobFollower({ id }: { id: string }) {
  const { state, stream, error, notFound, restart, refresh } = useJob(id);
  const [actionError, setActionError] = useState<string | null>(null);
  const [acting, setActing] = useState<'cancel' | 'retry' | null>(null);
  const { record, status, progress, message, partial } = state;

  async function act(kind: 'cancel' | 'retry') {
    setActing(kind);
    setActionError(null);
    try {
      if (kind === 'cancel') await api.cancelJob(id);
      else await api.retryJob(id);
      if (kind === 'retry') restart();
      else refresh();
    } catch (err) {
      // 409: the job changed meanwhile (e.g. it finished); show what it is now.
      if (err instanceof ApiError && err.status === 409) refresh();
      setActionError(err instanceof Error ? err.message : String(err));
    } finally {
      setActing(null);
    }
  }

  if (notFound) {
    return (
      <section className="card" aria-labelledby="job-heading">
        <h2 id="job-heading">Job not found</h2>
        <p>
          No job <code>{id}</code>: the id is wrong or its record expired.
        </p>
      </section>
    );
  }

  const terminal = isTerminal(status);
  const canCancel = status != null && !terminal;
  // An archived job (Redis no longer holds it) cannot be retried: the API answers 404.
  const canRetry = (status === 'failed' || status === 'cancelled') && !record?.archived;
  const errorMessage = record?.error?.message;
  // Paused (`ctx.wait_for`): the bar holds where it is and says what it waits for.
  const waitingFor = status === 'waiting' && record?.status === 'waiting' ? record.waiting_for : null;
  const approval = status === 'waiting' && (!waitingFor || waitingFor.name === 'approve');
  const statusText = approval ? 'Waiting for your approval' : waitingFor ? `Waiting for the signal “${waitingFor.name}”` : null;

  return (
    <section className="card job" aria-labelledby="job-heading">
      <div className="job-head">
        <h2 id="job-heading">
          {record?.type === 'generate_article' || !record ? 'Article' : record.type}{' '}
          <Link className="job-id" href={`/job/?id=${encodeURIComponent(id)}`}>
            {id}
          </Link>
        </h2>
        <StatusBadge status={status ?? 'loading'} />
      </div>
      <p className="status-line" role="status" aria-live="polite">
        {status ? statusText ?? STATUS_TEXT[status] ?? status : 'Loading…'}
        {record && record.attempt > 1 ? ` (attempt ${record.attempt} of ${record.max_attempts})` : ''}
      </p>
      <ProgressBar value={progress} message={statusText ?? message} status={status} label="Job progress" />
      <p className="muted small stream-state">
        {stream === 'live' ? 'Live updates' : stream === 'failed' ? 'Live updates unavailable: polling' : '\u00a0'}
      </p>

      {record && status === 'waiting' && <WaitingPanel record={record} onSent={refresh} />}

      {(canCancel || canRetry) && (
        <div className="actions">
          {canCancel && (
            <button type="button" onClick={() => act('cancel')} disabled={acting !== null}>
              {acting === 'cancel' ? 'Cancelling…' : 'Cancel'}
            </button>
          )}
          {canRetry && (
            <button type="button" className="primary" onClick={() => act('retry')} disabled={acting !== null}>
              {acting === 'retry' ? 'Retrying…' : 'Retry'}
            </button>
          )}
        </div>
      )}
      {actionError && (
        <p className="alert alert-error" role="alert">
          {actionError}
        </p>
      )}
      {error && (
        <p className="alert alert-warn" role="alert">
          {error.message}
        </p>
      )}

      {status === 'failed' && (
        <div className="alert alert-error job-error" role="alert">
          <strong>Error{record?.error?.type ? ` (${record.error.type})` : ''}:</strong> {errorMessage ?? 'the job failed'}
        </div>
      )}
      {status === 'cancelled' && <p className="alert alert-warn job-error">This job was cancelled.</p>}

      {!terminal && partial && (
        <section className="partial" aria-label="Draft so far">
          <h3 className="small muted">Draft so far</h3>
          <pre className="partial-text">{partial}</pre>
        </section>
      )}
      {record?.status === 'succeeded' && !isArticle(record.result) && (
        <section aria-label="Result">
          <h3>Result</h3>
          <pre className="json">{JSON.stringify(record.result, null, 2)}</pre>
        </section>
      )}
      {record?.status === 'succeeded' && isArticle(record.result) && <Article result={record.result} />}
    </section>
  );
}
