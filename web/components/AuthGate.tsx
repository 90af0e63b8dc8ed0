'use client';

import { useEffect, useId, useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError } from '@/lib/api';
import { authState, needsKey, signIn, useAuth } from '@/lib/auth';

/**
 * Shows the page, or, when the API wants a key the UI does not have, the sign-in form in
 * its place. Once per tab session, while it is not known whether the API wants a key,
 * it asks (GET /jobs?limit=1 without a key): a 401 brings up the form before the page
 * calls anything else. Without AGENTQ_API_KEYS nothing changes: the page shows at once.
 */
export default function AuthGate({ children }: { children: ReactNode }) {
  const auth = useAuth();
  const unknown = auth.required === null && !auth.key;

  useEffect(() => {
    // Read the store itself: while the page hydrates, `auth` is still the server's view.
    const now = authState();
    if (!unknown || now.required !== null || now.key) return;
    const ac = new AbortController();
    // A 401 flips the store to "required" (lib/api.ts); errors are left to the page.
    api.checkKey(null, ac.signal).catch(() => {});
    return () => ac.abort();
  }, [unknown]);

  if (needsKey(auth)) return <SignIn refused={auth.invalid} />;
  return <>{children}</>;
}

function SignIn({ refused }: { refused: boolean }) {
  const uid = useId();
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [invalid, setInvalid] = useState(refused);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const given = key.trim();
    if (!given) return;
    setBusy(true);
    setError(null);
    try {
      if (await api.checkKey(given)) {
        signIn(given);
        return;
      }
      setInvalid(true);
      setKey('');
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card signin" aria-labelledby={`${uid}-h`}>
      <h1 id={`${uid}-h`}>Sign in</h1>
      <p>
        This agentq API needs an API key (one of <code>AGENTQ_API_KEYS</code>). It is kept in this tab until you close
        it.
      </p>
      <form onSubmit={submit} aria-label="Sign in" noValidate>
        <div className="field">
          <label htmlFor={`${uid}-key`}>API key</label>
          <input
            id={`${uid}-key`}
            name="api-key"
            type="password"
            autoComplete="off"
            spellCheck={false}
            autoFocus
            value={key}
            onChange={(e) => setKey(e.target.value)}
            {...(invalid ? { 'aria-invalid': true, 'aria-describedby': `${uid}-err` } : {})}
          />
        </div>
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy || !key.trim()}>
            {busy ? 'Checking…' : 'Sign in'}
          </button>
        </div>
        {invalid && (
          <p className="alert alert-error" role="alert" id={`${uid}-err`}>
            Invalid API key
          </p>
        )}
        {error && (
          <p className="alert alert-error" role="alert">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}
