import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffInterval, startPolling } from '@/lib/poll';

function setHidden(hidden: boolean) {
  Object.defineProperty(document, 'visibilityState', { value: hidden ? 'hidden' : 'visible', configurable: true });
  document.dispatchEvent(new Event('visibilitychange'));
}

afterEach(() => setHidden(false));

describe('startPolling', () => {
  it('polls about once a second and stops by itself at a terminal answer', async () => {
    vi.useFakeTimers();
    const answers = ['queued', 'running', 'running', 'succeeded'];
    const load = vi.fn(async () => answers.shift() ?? 'extra');
    const seen: string[] = [];
    startPolling<string>({
      load,
      onData: (d) => seen.push(d),
      interval: (last, ctx) => (last === 'succeeded' ? false : backoffInterval(ctx)),
    });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(seen).toEqual(['queued', 'running', 'running', 'succeeded']);
    expect(load).toHaveBeenCalledTimes(4);
  });

  it('backs off while the tab is hidden and catches up when it is shown', async () => {
    vi.useFakeTimers();
    const load = vi.fn(async () => 'running');
    const poller = startPolling<string>({ load, onData() {}, interval: (_l, ctx) => backoffInterval(ctx) });
    await vi.advanceTimersByTimeAsync(0);
    expect(load).toHaveBeenCalledTimes(1);
    setHidden(true);
    await vi.advanceTimersByTimeAsync(20_000);
    // visible: 20 polls in 20 s; hidden: 1 s, then 2, 4, 8 s … → only a handful
    expect(load.mock.calls.length).toBeLessThanOrEqual(5);
    const before = load.mock.calls.length;
    setHidden(false);
    await vi.advanceTimersByTimeAsync(0);
    expect(load.mock.calls.length).toBe(before + 1);
    poller.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(load.mock.calls.length).toBe(before + 1);
  });

  it('backs off after failures', () => {
    expect(backoffInterval({ hidden: false, hiddenPolls: 0, failures: 0 })).toBe(1000);
    expect(backoffInterval({ hidden: false, hiddenPolls: 0, failures: 3 })).toBe(8000);
    expect(backoffInterval({ hidden: false, hiddenPolls: 0, failures: 30 })).toBe(30_000);
  });
});
