import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import AuthGate from '@/components/AuthGate';
import HistoryPage from '@/components/HistoryPage';
import Nav from '@/components/Nav';
import { job, mockFetch, type Call } from './helpers';

const page = { jobs: [job({ id: 'J3', status: 'succeeded' })], next_before: null };

/** An API with AGENTQ_API_KEYS=right (or none when `key` is null). */
function api(key: string | null) {
  return mockFetch((call: Call) => {
    if (!call.url.startsWith('/jobs')) return undefined;
    if (key && call.headers.get('authorization') !== `Bearer ${key}`) {
      return { status: 401, body: { detail: call.headers.has('authorization') ? 'missing or invalid API key' : 'missing API key' } };
    }
    return { body: page };
  });
}

const app = () =>
  render(
    <>
      <Nav />
      <AuthGate>
        <HistoryPage />
      </AuthGate>
    </>,
  );

async function signInWith(key: string) {
  fireEvent.change(await screen.findByLabelText('API key'), { target: { value: key } });
  fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
}

describe('API keys', () => {
  it('without AGENTQ_API_KEYS the page shows at once and no key is asked for', async () => {
    const calls = api(null);
    app();
    expect(await screen.findByRole('link', { name: 'J3' })).toBeTruthy();
    await waitFor(() => expect(calls.some((c) => c.url === '/jobs?limit=1')).toBe(true));
    expect(screen.queryByLabelText('API key')).toBeNull();
    expect(screen.queryByRole('button', { name: 'Sign out' })).toBeNull();
    expect(calls.every((c) => !c.headers.has('authorization'))).toBe(true);
    expect(sessionStorage.getItem('agentq.keyRequired')).toBe('0');
  });

  it('asks for a key, refuses a wrong one and sends the right one on every call', async () => {
    const calls = api('right');
    app();
    await signInWith('wrong');
    expect(await screen.findByText('Invalid API key')).toBeTruthy();
    expect(screen.getByLabelText('API key').getAttribute('aria-invalid')).toBe('true');
    expect(screen.queryByRole('link', { name: 'J3' })).toBeNull();
    expect(sessionStorage.getItem('agentq.apiKey')).toBeNull();

    const before = calls.length;
    await signInWith('right');
    expect(await screen.findByRole('link', { name: 'J3' })).toBeTruthy();
    expect(screen.queryByLabelText('API key')).toBeNull();
    expect(screen.queryByText('Invalid API key')).toBeNull();
    expect(sessionStorage.getItem('agentq.apiKey')).toBe('right');
    const after = calls.slice(before);
    expect(after.length).toBeGreaterThanOrEqual(2); // the check, then the page's own call
    for (const c of after) expect(c.headers.get('authorization')).toBe('Bearer right');
  });

  it('once the tab knows a key is needed, it asks before any call', async () => {
    sessionStorage.setItem('agentq.keyRequired', '1');
    const calls = api('right');
    app();
    expect(await screen.findByLabelText('API key')).toBeTruthy();
    expect(screen.queryByText('Invalid API key')).toBeNull();
    expect(calls).toHaveLength(0);
  });

  it('a stored key that the API refuses shows "Invalid API key" and the sign-in field again', async () => {
    sessionStorage.setItem('agentq.apiKey', 'rotated-away');
    api('right');
    app();
    expect(await screen.findByText('Invalid API key')).toBeTruthy();
    expect(screen.getByLabelText('API key')).toBeTruthy();
    expect(sessionStorage.getItem('agentq.apiKey')).toBeNull();
    await signInWith('right');
    expect(await screen.findByRole('link', { name: 'J3' })).toBeTruthy();
  });

  it('Sign out forgets the key', async () => {
    sessionStorage.setItem('agentq.apiKey', 'right');
    api('right');
    app();
    expect(await screen.findByRole('link', { name: 'J3' })).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByLabelText('API key')).toBeTruthy();
    expect(sessionStorage.getItem('agentq.apiKey')).toBeNull();
  });
});
