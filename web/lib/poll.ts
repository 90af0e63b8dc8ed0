// A self-stopping poller: `interval` is asked after every answer how long to wait
// before the next request, or `false` to stop (the shape of TanStack Query's
// refetchInterval function). It is told whether the tab is hidden and how many
// requests in a row failed, so callers can back off.

export interface PollContext {
  hidden: boolean;
  /** requests made in a row while the tab was hidden */
  hiddenPolls: number;
  /** requests failed in a row */
  failures: number;
}

export interface PollOptions<T> {
  load: (signal: AbortSignal) => Promise<T>;
  onData: (data: T) => void;
  onError?: (err: unknown) => void;
  interval: (last: T | undefined, ctx: PollContext) => number | false;
}

export interface Poller {
  stop(): void;
  /** request now instead of waiting for the timer (no-op once stopped) */
  poke(): void;
}

const isHidden = () => typeof document !== 'undefined' && document.visibilityState === 'hidden';

export function startPolling<T>(opts: PollOptions<T>): Poller {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let inflight: AbortController | null = null;
  let last: T | undefined;
  const ctx: PollContext = { hidden: false, hiddenPolls: 0, failures: 0 };

  const schedule = () => {
    if (stopped) return;
    ctx.hidden = isHidden();
    const wait = opts.interval(last, ctx);
    if (wait === false) {
      stop();
      return;
    }
    timer = setTimeout(tick, wait);
  };

  const tick = async () => {
    timer = null;
    if (stopped || inflight) return;
    const ac = new AbortController();
    inflight = ac;
    ctx.hiddenPolls = isHidden() ? ctx.hiddenPolls + 1 : 0;
    try {
      last = await opts.load(ac.signal);
      if (stopped) return;
      ctx.failures = 0;
      opts.onData(last);
    } catch (err) {
      if (stopped || (err as Error)?.name === 'AbortError') return;
      ctx.failures += 1;
      opts.onError?.(err);
    } finally {
      if (inflight === ac) inflight = null;
    }
    schedule();
  };

  const poke = () => {
    if (stopped || inflight) return;
    if (timer) clearTimeout(timer);
    timer = null;
    void tick();
  };

  const onVisibility = () => {
    if (!isHidden()) {
      ctx.hiddenPolls = 0;
      poke();
    }
  };

  function stop() {
    stopped = true;
    if (timer) clearTimeout(timer);
    timer = null;
    inflight?.abort();
    inflight = null;
    if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', onVisibility);
  }

  if (typeof document !== 'undefined') document.addEventListener('visibilitychange', onVisibility);
  void tick();
  return { stop, poke };
}

/** About once a second while visible; 2 s, 4 s … up to 30 s while hidden or failing. */
export function backoffInterval(ctx: PollContext, visibleMs = 1000): number {
  const steps = Math.max(ctx.hidden ? ctx.hiddenPolls : 0, ctx.failures);
  if (steps === 0) return visibleMs;
  return Math.min(visibleMs * 2 ** steps, 30_000);
}
