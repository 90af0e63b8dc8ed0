import { describe, expect, it, vi } from 'vitest';
import { apiKey, signIn } from '@/lib/auth';
import { openJobStream, parseJobEvent } from '@/lib/events';
import { FakeStream, flush, mockFetch, streamFor } from './helpers';


describe('job event stream', () => {
  it('parses JSON events and takes the type from the SSE event name when missing', () => {
    expect(parseJobEvent('{"type":"progress","progress":40}', 'message', '7', 1)).toMatchObject({
      type: 'progress',
      progress: 40,
      eventId: '7',
    });
    expect(parseJobEvent('{"status":"running"}', 'status', '', 1)).toMatchObject({ type: 'status', status: 'running' });
    expect(parseJobEvent('not json', 'message', '', 1)).toBeNull();
  });

  it('delivers named and unnamed events and closes after the terminal status', async () => {
    mockFetch(streamFor);
    const events: string[] = [];
    const states: string[] = [];
    openJobStream('/jobs/x/events', { onEvent: (e) => events.push(e.type), onState: (s) => states.push(s) });
    await flush();
    const s = FakeStream.last();
    expect(s.headers.get('accept')).toBe('text/event-stream');
    expect(s.headers.get('authorization')).toBeNull();
    s.emit({ type: 'progress', progress: 10 }, undefined, '1-0');
    s.emit({ type: 'partial', text: 'a' }, 'partial', '2-0');
    s.emit({ type: 'status', status: 'succeeded' }, 'status', '3-0');
    s.emit({ type: 'progress', progress: 99 }, undefined, '4-0');
    await vi.waitFor(() => expect(states).toContain('ended'));
    expect(events).toEqual(['progress', 'partial', 'status']);
    expect(s.aborted).toBe(true);
    expect(states).toEqual(['connecting', 'live', 'ended']);
  });

  it('sends the API key, and resumes with Last-Event-ID when the connection drops', async () => {
    signIn('key-1');
    const calls = mockFetch(streamFor);
    const events: JobEventLite[] = [];
    const states: string[] = [];
    openJobStream('/jobs/x/events', { onEvent: (e) => events.push({ type: e.type, eventId: e.eventId }), onState: (s) => states.push(s) });
    await flush();
    const first = FakeStream.last();
    expect(first.headers.get('authorization')).toBe('Bearer key-1');
    first.emit({ type: 'progress', progress: 10 }, undefined, '5-0');
    first.emit({ type: 'progress', progress: 20 }, undefined, '6-0');
    await vi.waitFor(() => expect(events).toHaveLength(2));
    first.end(); // dropped before the terminal event: the reader reconnects (after 1 s)
    await vi.waitFor(() => expect(FakeStream.instances).toHaveLength(2), { timeout: 3000 });
    const second = FakeStream.last();
    expect(second.headers.get('last-event-id')).toBe('6-0');
    expect(second.headers.get('authorization')).toBe('Bearer key-1');
    second.emit({ type: 'status', status: 'failed' }, undefined, '7-0');
    await vi.waitFor(() => expect(states).toContain('ended'));
    expect(events.map((e) => e.eventId)).toEqual(['5-0', '6-0', '7-0']);
    expect(calls).toHaveLength(2);
    expect(states).not.toContain('failed');
  });

  it('gives up after repeated errors so polling carries on alone', async () => {
    vi.useFakeTimers();
    const fetchMock = vi.fn(async () => Promise.reject(new TypeError('Failed to fetch')));
    vi.stubGlobal('fetch', fetchMock);
    const onState = vi.fn();
    openJobStream('/jobs/x/events', { onEvent() {}, onState }, { maxFailures: 3 });
    await vi.advanceTimersByTimeAsync(0);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fetchMock).toHaveBeenCalledTimes(2);
    expect(onState).not.toHaveBeenCalledWith('failed');
    await vi.advanceTimersByTimeAsync(2000);
    expect(fetchMock).toHaveBeenCalledTimes(3);
    expect(onState).toHaveBeenLastCalledWith('failed');
    await vi.advanceTimersByTimeAsync(30_000);
    expect(fetchMock).toHaveBeenCalledTimes(3);
  });

  it('stops at once when the server refuses the stream', async () => {
    const calls = mockFetch(() => ({ status: 404, body: { detail: 'job x not found' } }));
    const onState = vi.fn();
    openJobStream('/jobs/x/events', { onEvent() {}, onState });
    await vi.waitFor(() => expect(onState).toHaveBeenLastCalledWith('failed'));
    await flush();
    expect(calls).toHaveLength(1);
  });

  it('a refused key is forgotten, so the sign-in form shows again', async () => {
    signIn('wrong');
    mockFetch(() => ({ status: 401, body: { detail: 'missing or invalid API key' } }));
    const onState = vi.fn();
    openJobStream('/jobs/x/events', { onEvent() {}, onState });
    await vi.waitFor(() => expect(onState).toHaveBeenLastCalledWith('failed'));
    expect(apiKey()).toBeNull();
  });
});

interface JobEventLite {
  type: string;
  eventId?: string;
}
