import { cleanup } from '@testing-library/react';
import { afterEach, vi } from 'vitest';
import { FakeEventSource } from './helpers';

// jsdom has no EventSource: a scriptable stand-in lets tests push server events.
(globalThis as unknown as { EventSource: unknown }).EventSource = FakeEventSource;

afterEach(() => {
  cleanup();
  FakeEventSource.instances = [];
  vi.useRealTimers();
});
