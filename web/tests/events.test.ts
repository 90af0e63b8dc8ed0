import { describe, expect, it, vi } from 'vitest';
import { openJobStream, parseJobEvent } from '@/lib/events';
import { FakeEventSource } from './helpers';

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

  it('delivers named and unnamed events and closes after the terminal status', () => {
    const events: string[] = [];
    const states: string[] = [];
    openJobStream('/jobs/x/events', { onEvent: (e) => events.push(e.type), onState: (s) => states.push(s) });
    const es = FakeEventSource.last();
    es.open();
    es.emit({ type: 'progress', progress: 10 });
    es.emit({ type: 'partial', text: 'a' }, 'partial');
    es.emit({ type: 'status', status: 'succeeded' }, 'status');
    es.emit({ type: 'progress', progress: 99 });
    expect(events).toEqual(['progress', 'partial', 'status']);
    expect(es.readyState).toBe(FakeEventSource.CLOSED);
    expect(states).toEqual(['connecting', 'live', 'ended']);
  });

  it('gives up after repeated errors so polling carries on alone', () => {
    const onState = vi.fn();
    openJobStream('/jobs/x/events', { onEvent() {}, onState }, 3);
    const es = FakeEventSource.last();
    es.fail();
    es.fail();
    expect(es.readyState).not.toBe(FakeEventSource.CLOSED);
    es.fail();
    expect(es.readyState).toBe(FakeEventSource.CLOSED);
    expect(onState).toHaveBeenLastCalledWith('failed');
  });

  it('stops at once when the server refuses the stream', () => {
    const onState = vi.fn();
    openJobStream('/jobs/x/events', { onEvent() {}, onState });
    FakeEventSource.last().fail(true);
    expect(onState).toHaveBeenLastCalledWith('failed');
  });
});
