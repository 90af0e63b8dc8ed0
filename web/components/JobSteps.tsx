'use client';

import { useEffect, useState } from 'react';
import { api, ApiError, type JobRecord, type JobStep } from '@/lib/api';

/** A short line of what a step returned: its text, title or sections, else its JSON. */
export function stepSummary(result: unknown, max = 90): string {
  let text: string;
  if (typeof result === 'string') text = result;
  else if (result && typeof result === 'object' && !Array.isArray(result)) {
    const r = result as Record<string, unknown>;
    if (typeof r.title === 'string') text = r.title;
    else if (typeof r.text === 'string') text = r.text;
    else if (Array.isArray(r.sections))
      text = r.sections.map((s) => (s && typeof s === 'object' ? (s as { title?: unknown }).title : s)).join(' · ');
    else text = JSON.stringify(result);
  } else text = JSON.stringify(result) ?? '';
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

interface Props {
  id: string;
  /** the new job of a replay (navigate to it) */
  onReplayed(job: JobRecord): void;
}

/** A finished job's stored steps, each with "Re-run from here" (POST /jobs/{id}/replay). */
export default function JobSteps({ id, onReplayed }: Props) {
  const [steps, setSteps] = useState<JobStep[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    api
      .steps(id, abort.signal)
      .then((r) => setSteps(r.steps))
      .catch((err) => {
        if ((err as Error)?.name === 'AbortError') return;
        setLoadError(
          err instanceof ApiError && err.status === 404
            ? 'Redis no longer holds this job, nor its steps.'
            : `The steps cannot be read: ${err instanceof Error ? err.message : String(err)}`,
        );
      });
    return () => abort.abort();
  }, [id]);

  async function replay(step: string) {
    setBusy(step);
    setError(null);
    try {
      onReplayed(await api.replay(id, step));
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(null);
    }
  }

  return (
    <section aria-labelledby="steps-h">
      <h3 id="steps-h">Steps</h3>
      {loadError && <p className="muted">{loadError}</p>}
      {!loadError && steps === null && <p className="muted">Loading the steps…</p>}
      {steps?.length === 0 && <p className="muted">This job stored no steps.</p>}
      {steps && steps.length > 0 && (
        <>
          <p className="muted small">
            Re-run from a step: a new job copies the steps before it and runs the task again from there.
          </p>
          <ol className="steps" aria-label="Steps">
            {steps.map((s) => (
              <li key={s.name}>
                <div className="step-head">
                  <code>{s.name}</code>
                  <button
                    type="button"
                    aria-label={`Re-run from ${s.name}`}
                    disabled={busy !== null}
                    onClick={() => void replay(s.name)}
                  >
                    {busy === s.name ? 'Starting…' : 'Re-run from here'}
                  </button>
                </div>
                <span className="muted small">{stepSummary(s.result)}</span>
              </li>
            ))}
          </ol>
        </>
      )}
      {error && (
        <p className="alert alert-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
