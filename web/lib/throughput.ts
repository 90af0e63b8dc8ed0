// Jobs finished per second, sampled from GET /queues: the sum of succeeded + failed
// over all queues is a counter, so the rate between two samples is its delta / Δt.

import type { QueuesResponse } from './api';

export interface Sample {
  /** ms since epoch */
  t: number;
  finished: number;
}

export interface RatePoint {
  t: number;
  perSec: number;
}

export function finishedTotal(q: QueuesResponse): number {
  return q.queues.reduce((sum, x) => sum + (x.succeeded ?? 0) + (x.failed ?? 0), 0);
}

/** Append a sample and drop those older than the window (keeping one just before it). */
export function addSample(samples: Sample[], s: Sample, windowMs: number): Sample[] {
  const next = [...samples, s];
  const cutoff = s.t - windowMs;
  let first = 0;
  while (first < next.length - 1 && next[first + 1].t <= cutoff) first += 1;
  return next.slice(first);
}

/** Rates between consecutive samples; a counter that went down (reset) counts as 0. */
export function rates(samples: Sample[]): RatePoint[] {
  const out: RatePoint[] = [];
  for (let i = 1; i < samples.length; i += 1) {
    const dt = (samples[i].t - samples[i - 1].t) / 1000;
    if (dt <= 0) continue;
    const d = samples[i].finished - samples[i - 1].finished;
    out.push({ t: samples[i].t, perSec: d > 0 ? d / dt : 0 });
  }
  return out;
}

/** A round upper bound for the y axis: 1, 2, 5, 10, 20, 50 … */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * exp) return m * exp;
  return 10 * exp;
}
