'use client';

import { useId, useState, type FormEvent } from 'react';
import { api, ApiError, type ArticlePayload, type JobRecord } from '@/lib/api';

const LANGUAGES: [string, string][] = [
  ['en', 'English'],
  ['de', 'German'],
  ['fr', 'French'],
  ['es', 'Spanish'],
  ['it', 'Italian'],
  ['pt', 'Portuguese'],
  ['nl', 'Dutch'],
  ['ko', 'Korean'],
  ['ja', 'Japanese'],
  ['zh', 'Chinese'],
];
const LEVELS = ['beginner', 'intermediate', 'advanced'];
const LENGTHS: ArticlePayload['length'][] = ['short', 'medium', 'long'];
const FIELDS = ['topic', 'language', 'level', 'length'] as const;
type Field = (typeof FIELDS)[number];

/** Split a 422 body into messages per form field and the rest. */
export function splitFieldErrors(err: ApiError): { fields: Partial<Record<Field, string>>; other: string[] } {
  const fields: Partial<Record<Field, string>> = {};
  const other: string[] = [];
  for (const e of err.fieldErrors) {
    const name = [...e.loc].reverse().find((p): p is Field => FIELDS.includes(p as Field));
    if (name) fields[name] = fields[name] ? `${fields[name]}; ${e.msg}` : e.msg;
    else other.push(`${e.loc.filter((p) => p !== 'body').join('.') || 'request'}: ${e.msg}`);
  }
  if (!err.fieldErrors.length) other.push(err.message);
  return { fields, other };
}

interface Props {
  onSubmitted(job: JobRecord): void;
  initial?: Partial<ArticlePayload>;
}

export default function ArticleForm({ onSubmitted, initial }: Props) {
  const uid = useId();
  const [values, setValues] = useState<ArticlePayload>({
    topic: initial?.topic ?? '',
    language: initial?.language ?? 'en',
    level: initial?.level ?? 'intermediate',
    length: initial?.length ?? 'short',
  });
  const [review, setReview] = useState(initial?.review ?? false);
  const [busy, setBusy] = useState(false);
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<Field, string>>>({});
  const [formErrors, setFormErrors] = useState<string[]>([]);

  const set = (k: Field) => (e: { target: { value: string } }) => setValues((v) => ({ ...v, [k]: e.target.value }));

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setFieldErrors({});
    setFormErrors([]);
    try {
      const job = await api.submitJob({
        type: 'generate_article',
        payload: { ...values, topic: values.topic.trim(), ...(review ? { review: true } : {}) },
      });
      onSubmitted(job);
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) {
        const { fields, other } = splitFieldErrors(err);
        setFieldErrors(fields);
        setFormErrors(other);
      } else {
        setFormErrors([err instanceof Error ? err.message : String(err)]);
      }
    } finally {
      setBusy(false);
    }
  }

  const id = (f: Field) => `${uid}-${f}`;
  const errId = (f: Field) => `${uid}-${f}-error`;
  const describe = (f: Field) => (fieldErrors[f] ? { 'aria-invalid': true, 'aria-describedby': errId(f) } : {});
  const fieldError = (f: Field) =>
    fieldErrors[f] ? (
      <p className="field-error" id={errId(f)}>
        {fieldErrors[f]}
      </p>
    ) : null;

  return (
    <form className="card form" onSubmit={submit} aria-label="Generate an article" noValidate>
      <div className="field field-wide">
        <label htmlFor={id('topic')}>Topic</label>
        <input
          id={id('topic')}
          name="topic"
          type="text"
          autoComplete="off"
          placeholder="e.g. How Redis lists make a job queue"
          value={values.topic}
          onChange={set('topic')}
          maxLength={200}
          {...describe('topic')}
        />
        {fieldError('topic')}
      </div>
      <div className="field">
        <label htmlFor={id('language')}>Language</label>
        <select id={id('language')} name="language" value={values.language} onChange={set('language')} {...describe('language')}>
          {LANGUAGES.map(([code, name]) => (
            <option key={code} value={code}>
              {name}
            </option>
          ))}
        </select>
        {fieldError('language')}
      </div>
      <div className="field">
        <label htmlFor={id('level')}>Level</label>
        <select id={id('level')} name="level" value={values.level} onChange={set('level')} {...describe('level')}>
          {LEVELS.map((l) => (
            <option key={l} value={l}>
              {l}
            </option>
          ))}
        </select>
        {fieldError('level')}
      </div>
      <div className="field">
        <label htmlFor={id('length')}>Length</label>
        <select id={id('length')} name="length" value={values.length} onChange={set('length')} {...describe('length')}>
          {LENGTHS.map((l) => (
            <option key={l} value={l}>
              {l}
            </option>
          ))}
        </select>
        {fieldError('length')}
      </div>
      <div className="field field-wide check">
        <input id={`${uid}-review`} name="review" type="checkbox" checked={review} onChange={(e) => setReview(e.target.checked)} />
        <label htmlFor={`${uid}-review`}>Review the outline first</label>
        <span className="muted small">the agent waits for your Approve, Edit or Reject before it writes</span>
      </div>
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Submitting…' : 'Generate'}
        </button>
      </div>
      {formErrors.length > 0 && (
        <div className="alert alert-error form-errors" role="alert">
          {formErrors.map((m, i) => (
            <p key={i}>{m}</p>
          ))}
        </div>
      )}
      {formErrors.length === 0 && Object.keys(fieldErrors).length > 0 && (
        <p className="sr-only" role="alert">
          The API rejected the form: {Object.values(fieldErrors).join('; ')}
        </p>
      )}
    </form>
  );
}
