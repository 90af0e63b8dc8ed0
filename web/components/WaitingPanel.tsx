'use client';

import { useEffect, useId, useState, type FormEvent } from 'react';
import { api, ApiError, type JobRecord } from '@/lib/api';

/** The section titles of the job's `outline` step (generate_article), or null when it has none. */
export function outlineTitles(steps: { name: string; result?: unknown }[]): string[] | null {
  const step = steps.find((s) => s.name === 'outline');
  const sections = (step?.result as { sections?: unknown } | undefined)?.sections;
  if (!Array.isArray(sections)) return null;
  const titles = sections
    .map((s) => (typeof s === 'string' ? s : s && typeof s === 'object' ? (s as { title?: unknown }).title : null))
    .filter((t): t is string => typeof t === 'string');
  return titles.length ? titles : null;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface Props {
  record: JobRecord;
  /** the signal went out (the job goes back to its queue): fetch the record now */
  onSent(): void;
}

/** A `waiting` job's controls: the outline review for `approve`, a JSON box for any other signal. */
export default function WaitingPanel({ record, onSent }: Props) {
  const waiting = record.status === 'waiting' ? record.waiting_for : null;
  if (!waiting) return null;
  const until = waiting.until ? ` until ${new Date(waiting.until).toLocaleString()}` : '';
  return (
    <section className="waiting" aria-label="Waiting for a decision">
      {waiting.name === 'approve' ? (
        <OutlineReview jobId={record.id} until={until} onSent={onSent} />
      ) : (
        <SignalForm jobId={record.id} name={waiting.name} until={until} onSent={onSent} />
      )}
    </section>
  );
}

type Mode = 'view' | 'edit' | 'reject';

/** The outline for Approve (as is or edited) or Reject (with a reason): the `approve` signal. */
export function OutlineReview({ jobId, until, onSent }: { jobId: string; until: string; onSent(): void }) {
  const uid = useId();
  const [titles, setTitles] = useState<string[] | null>(null);
  const [draft, setDraft] = useState<string[]>([]);
  const [mode, setMode] = useState<Mode>('view');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    api
      .steps(jobId, abort.signal)
      .then((r) => setTitles(outlineTitles(r.steps) ?? []))
      .catch((err) => {
        if ((err as Error)?.name !== 'AbortError') setError(`The outline cannot be read: ${message(err)}`);
      });
    return () => abort.abort();
  }, [jobId]);

  async function send(body: unknown) {
    setBusy(true);
    setError(null);
    try {
      await api.signal(jobId, 'approve', body);
      onSent();
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) onSent();
      setError(message(err));
      setBusy(false);
    }
  }

  const edited = draft.map((t) => t.trim());
  const draftOk = edited.length > 0 && edited.every(Boolean);

  function submit(e: FormEvent) {
    e.preventDefault();
    if (mode === 'edit' && draftOk) void send({ outline: edited });
    else if (mode === 'reject') void send({ reject: reason.trim() || 'rejected' });
  }

  return (
    <form className="review" onSubmit={submit} aria-label="Review the outline">
      <h3>Review the outline</h3>
      <p className="muted small">
        The agent waits for your decision{until}; it holds no worker meanwhile.
      </p>
      {titles === null && !error && <p className="muted">Loading the outline…</p>}
      {titles !== null && mode !== 'edit' && (
        <ol className="outline" aria-label="Outline">
          {titles.map((t, i) => (
            <li key={i}>{t}</li>
          ))}
        </ol>
      )}
      {mode === 'edit' && (
        <ol className="outline outline-edit" aria-label="Edit the outline">
          {draft.map((t, i) => (
            <li key={i}>
              <input
                type="text"
                aria-label={`Section ${i + 1} title`}
                value={t}
                maxLength={200}
                aria-invalid={!t.trim() || undefined}
                onChange={(e) => setDraft((d) => d.map((x, j) => (j === i ? e.target.value : x)))}
              />
              <button
                type="button"
                aria-label={`Remove section ${i + 1}`}
                disabled={draft.length <= 1}
                onClick={() => setDraft((d) => d.filter((_, j) => j !== i))}
              >
                ×
              </button>
            </li>
          ))}
        </ol>
      )}
      {mode === 'edit' && (
        <p>
          <button type="button" onClick={() => setDraft((d) => [...d, ''])} disabled={draft.length >= 20}>
            Add a section
          </button>
          {!draftOk && <span className="field-error"> Every section needs a title.</span>}
        </p>
      )}
      {mode === 'reject' && (
        <div className="field field-wide">
          <label htmlFor={`${uid}-reason`}>Reason</label>
          <input
            id={`${uid}-reason`}
            type="text"
            value={reason}
            maxLength={500}
            placeholder="e.g. too technical for the audience"
            onChange={(e) => setReason(e.target.value)}
          />
        </div>
      )}
      <div className="actions">
        {mode === 'view' && (
          <>
            <button type="button" className="primary" disabled={busy || titles === null} onClick={() => void send({})}>
              {busy ? 'Sending…' : 'Approve'}
            </button>
            <button
              type="button"
              disabled={busy || !titles?.length}
              onClick={() => {
                setDraft(titles ?? []);
                setMode('edit');
              }}
            >
              Edit
            </button>
            <button type="button" disabled={busy} onClick={() => setMode('reject')}>
              Reject
            </button>
          </>
        )}
        {mode === 'edit' && (
          <button type="submit" className="primary" disabled={busy || !draftOk}>
            {busy ? 'Sending…' : 'Approve'}
          </button>
        )}
        {mode === 'reject' && (
          <button type="submit" className="danger" disabled={busy}>
            {busy ? 'Sending…' : 'Reject'}
          </button>
        )}
        {mode !== 'view' && (
          <button type="button" disabled={busy} onClick={() => setMode('view')}>
            Back
          </button>
        )}
      </div>
      {error && (
        <p className="alert alert-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

/** Any other signal: a JSON body typed by hand. */
export function SignalForm({ jobId, name, until, onSent }: { jobId: string; name: string; until: string; onSent(): void }) {
  const uid = useId();
  const [text, setText] = useState('{}');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      setError('The body is not valid JSON');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.signal(jobId, name, body);
      onSent();
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="review" onSubmit={submit} aria-label="Send a signal">
      <h3>
        Waiting for the signal <code>{name}</code>
      </h3>
      <p className="muted small">The job resumes when it arrives{until}.</p>
      <div className="field field-wide">
        <label htmlFor={`${uid}-body`}>Body (JSON)</label>
        <textarea id={`${uid}-body`} className="mono" rows={3} value={text} onChange={(e) => setText(e.target.value)} />
      </div>
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Sending…' : 'Send signal'}
        </button>
      </div>
      {error && (
        <p className="alert alert-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
