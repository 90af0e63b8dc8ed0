'use client';

import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { isTerminal } from '@/lib/api';
import { formatDuration, formatTime, jobDuration } from '@/lib/format';
import { recordTimeline, timeline } from '@/lib/timeline';
import { useJob } from '@/lib/useJob';
import JobSteps from './JobSteps';
import ProgressBar from './ProgressBar';
import StatusBadge, { ArchivedBadge } from './StatusBadge';
import WaitingPanel from './WaitingPanel';

function JobDetail({ id }: { id: string }) {
  const { state, stream, notFound, error, refresh } = useJob(id);
  const router = useRouter();
  const { record, events } = state;

  if (notFound) {
    return (
      <>
        <h1>Job not found</h1>
        <p>
          No job <code>{id}</code>: the id is wrong, or its record expired and no history database keeps it.{' '}
          <Link href="/history/">Back to the history</Link>
        </p>
      </>
    );
  }
  const d = record ? jobDuration(record) : null;
  const archived = record?.archived === true;
  // An archived job's event stream is gone with it: its timeline comes from the record.
  const items = archived && events.length === 0 && record ? recordTimeline(record) : timeline(events);

  return (
    <>
      <h1 className="job-title">
        Job <span className="job-id">{id}</span>
        {archived && <ArchivedBadge />}
      </h1>
      {error && (
        <p className="alert alert-warn" role="alert">
          {error.message}
        </p>
      )}
      {!record ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : (
        <div className="grid-2">
          <section className="card" aria-labelledby="record-h">
            <h2 id="record-h">Record</h2>
            <ProgressBar value={state.progress} message={state.message} status={state.status} label="Job progress" />
            <dl className="record">
              <dt>Status</dt>
              <dd>
                <StatusBadge status={state.status} />
              </dd>
              <dt>Type</dt>
              <dd>{record.type}</dd>
              <dt>Queue</dt>
              <dd>{record.queue}</dd>
              <dt>Attempt</dt>
              <dd>
                {record.attempt} of {record.max_attempts}
              </dd>
              {record.waiting_for && record.status === 'waiting' && (
                <>
                  <dt>Waiting for</dt>
                  <dd>
                    <code>{record.waiting_for.name}</code>
                    {record.waiting_for.until ? ` until ${new Date(record.waiting_for.until).toLocaleString()}` : ''}
                  </dd>
                </>
              )}
              {record.replay_of && (
                <>
                  <dt>Replay of</dt>
                  <dd>
                    <Link className="mono" href={`/job/?id=${encodeURIComponent(record.replay_of)}`}>
                      {record.replay_of}
                    </Link>
                  </dd>
                </>
              )}
              <dt>Worker</dt>
              <dd className="mono">{record.worker ?? '–'}</dd>
              <dt>Created</dt>
              <dd>{record.created_at ? new Date(record.created_at).toLocaleString() : '–'}</dd>
              <dt>Started</dt>
              <dd>{record.started_at ? new Date(record.started_at).toLocaleString() : '–'}</dd>
              <dt>Finished</dt>
              <dd>{record.finished_at ? new Date(record.finished_at).toLocaleString() : '–'}</dd>
              <dt>Duration</dt>
              <dd>{d == null ? '–' : formatDuration(d)}</dd>
            </dl>
            {record.type === 'generate_article' && (
              <p>
                <Link href={`/?job=${encodeURIComponent(id)}`}>Open on the Generate page</Link>
              </p>
            )}
            {record.error && (
              <div className="alert alert-error" role="alert">
                <strong>Error ({record.error.type}):</strong> {record.error.message}
              </div>
            )}
            {state.status === 'waiting' && <WaitingPanel record={record} onSent={refresh} />}
            <h3>Payload</h3>
            <pre className="json">{JSON.stringify(record.payload, null, 2)}</pre>
            {record.result != null && (
              <>
                <h3>Result</h3>
                <pre className="json">{JSON.stringify(record.result, null, 2)}</pre>
              </>
            )}
            {isTerminal(record.status) && !archived && (
              <JobSteps id={id} onReplayed={(job) => router.push(`/job/?id=${encodeURIComponent(job.id)}`)} />
            )}
          </section>
          <section className="card" aria-labelledby="events-h">
            <h2 id="events-h">Events</h2>
            <p className="muted small">
              {archived
                ? 'Archived: Redis no longer holds this job or its event stream; the timeline below is rebuilt from the record.'
                : stream === 'live' || stream === 'connecting'
                ? 'Following the event stream…'
                : stream === 'failed'
                  ? 'The event stream is unavailable.'
                  : `${events.length} event${events.length === 1 ? '' : 's'}`}
            </p>
            <ol className="timeline">
              {items.map((it) => (
                <li key={it.key} className={`tl-${it.type}`}>
                  <time className="mono small">{formatTime(it.at)}</time>
                  <span className="tl-type">{it.type}</span>
                  <span className="tl-text">{it.text}</span>
                </li>
              ))}
            </ol>
            {items.length === 0 && <p className="muted">No events yet.</p>}
          </section>
        </div>
      )}
    </>
  );
}

export default function JobDetailPage() {
  const id = useSearchParams().get('id');
  if (!id) {
    return (
      <>
        <h1>Job</h1>
        <p>
          No job id in the address. Pick one from the <Link href="/history/">history</Link>.
        </p>
      </>
    );
  }
  return <JobDetail key={id} id={id} />;
}
