import { cleanup } from '@testing-library/react';
import { afterEach, vi } from 'vitest';
import { resetAuth } from '@/lib/auth';
import { FakeStream } from './helpers';

afterEach(() => {
  cleanup();
  for (const s of FakeStream.instances) s.end();
  FakeStream.instances = [];
  resetAuth();
  vi.useRealTimers();
});
