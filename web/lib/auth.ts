// API keys in the browser. With AGENTQ_API_KEYS set, every /jobs* call (and GET /workers)
// needs `Authorization: Bearer <key>`. The UI learns that from a 401, asks for a key once
// (components/AuthGate.tsx), keeps it in sessionStorage (this tab, until it is closed) and
// sends it on every request, the event stream included (lib/events.ts).
//
// A small external store: React reads it with useSyncExternalStore (useAuth), plain
// modules through apiKey() and authRefused().

import { useSyncExternalStore } from 'react';

const KEY_ITEM = 'agentq.apiKey';
/** '1': this API wants a key; '0': it answered without one; absent: not known yet */
const REQUIRED_ITEM = 'agentq.keyRequired';

export interface AuthState {
  /** the key in use, or null */
  key: string | null;
  /** true: the API wants a key; false: it answered without one; null: not known yet */
  required: boolean | null;
  /** the last key given was refused */
  invalid: boolean;
}

const SERVER: AuthState = { key: null, required: null, invalid: false };
let state: AuthState | null = null;
const listeners = new Set<() => void>();

function storage(): Storage | null {
  try {
    return typeof window === 'undefined' ? null : window.sessionStorage;
  } catch {
    return null; // storage disabled: the key lives in memory for this page only
  }
}

function load(): AuthState {
  if (state) return state;
  const s = storage();
  let key: string | null = null;
  let required: boolean | null = null;
  try {
    key = s?.getItem(KEY_ITEM) || null;
    const r = s?.getItem(REQUIRED_ITEM);
    required = r === '1' ? true : r === '0' ? false : null;
  } catch {
    // unreadable storage: start from nothing
  }
  state = { key, required: key ? true : required, invalid: false };
  return state;
}

function save(next: AuthState) {
  state = next;
  const s = storage();
  try {
    if (next.key) s?.setItem(KEY_ITEM, next.key);
    else s?.removeItem(KEY_ITEM);
    if (next.required == null) s?.removeItem(REQUIRED_ITEM);
    else s?.setItem(REQUIRED_ITEM, next.required ? '1' : '0');
  } catch {
    // full or disabled storage: the in-memory state still holds
  }
  listeners.forEach((fn) => fn());
}

/** The state now (outside React). */
export function authState(): AuthState {
  return load();
}

/** The key to send, or null. */
export function apiKey(): string | null {
  return load().key;
}

/** The Authorization header for a key (none without one). */
export function authHeaders(key: string | null = apiKey()): Record<string, string> {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** Use this key from now on (after the API accepted it). */
export function signIn(key: string) {
  save({ key, required: true, invalid: false });
}

/** Forget the key; the sign-in form shows again. */
export function signOut() {
  save({ key: null, required: true, invalid: false });
}

/**
 * The API answered 401 to a request sent with `sentKey` (null: sent without a key).
 * An answer to an older key than the one in use now changes nothing.
 */
export function authRefused(sentKey: string | null) {
  const cur = load();
  if (sentKey !== cur.key) {
    if (!cur.required) save({ ...cur, required: true });
    return;
  }
  save({ key: null, required: true, invalid: sentKey != null });
}

/** The API answered a /jobs call without a key: it does not want one. */
export function authNotRequired() {
  const cur = load();
  if (!cur.key && cur.required !== false) save({ ...cur, required: false, invalid: false });
}

/** True when the UI must ask for a key before it calls the API. */
export function needsKey(s: AuthState): boolean {
  return s.required === true && !s.key;
}

function subscribe(fn: () => void) {
  listeners.add(fn);
  return () => {
    listeners.delete(fn);
  };
}

export function useAuth(): AuthState {
  return useSyncExternalStore(subscribe, load, () => SERVER);
}

/** Forget everything (tests). */
export function resetAuth() {
  state = null;
  const s = storage();
  try {
    s?.removeItem(KEY_ITEM);
    s?.removeItem(REQUIRED_ITEM);
  } catch {
    // nothing stored
  }
  listeners.forEach((fn) => fn());
}
