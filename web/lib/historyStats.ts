// The Dashboard's history charts (GET /history/stats): the answer shaped for drawing.
// The API lists only the hours in which jobs ended; the chart wants every hour of the
// window, oldest first, with a count per status (absent: 0).

import type { HistoryStats } from './api';

/** The order of a bar's segments, bottom up; any other status is drawn last as "other". */
export const STACK = ['succeeded', 'failed', 'cancelled'] as const;
export type StackKey = (typeof STACK)[number] | 'other';

export interface HourBar {
  /** the hour's start, ms since epoch (UTC) */
  t: number;
  counts: Record<StackKey, number>;
  total: number;
}

export interface RunTimeBar {
  type: string;
  count: number;
  p50: number;
  p95: number;
}

const HOUR = 3_600_000;

/** `hours` hourly bars ending with the hour that holds `now`. */
export function hourBars(stats: Pick<HistoryStats, 'per_hour'>, now: number, hours = 24): HourBar[] {
  const last = Math.floor(now / HOUR) * HOUR;
  const byHour = new Map<number, Record<string, unknown>>();
  for (const h of stats.per_hour ?? []) {
    const t = Date.parse(h.hour);
    if (!Number.isNaN(t)) byHour.set(Math.floor(t / HOUR) * HOUR, h);
  }
  return Array.from({ length: hours }, (_, i) => {
    const t = last - (hours - 1 - i) * HOUR;
    const counts: Record<StackKey, number> = { succeeded: 0, failed: 0, cancelled: 0, other: 0 };
    for (const [key, value] of Object.entries(byHour.get(t) ?? {})) {
      if (key === 'hour' || typeof value !== 'number' || !(value > 0)) continue;
      const k = (STACK as readonly string[]).includes(key) ? (key as StackKey) : 'other';
      counts[k] += value;
    }
    return { t, counts, total: counts.succeeded + counts.failed + counts.cancelled + counts.other };
  });
}

/** Totals per status over the bars. */
export function totals(bars: HourBar[]): Record<StackKey, number> {
  const out: Record<StackKey, number> = { succeeded: 0, failed: 0, cancelled: 0, other: 0 };
  for (const b of bars) for (const k of Object.keys(out) as StackKey[]) out[k] += b.counts[k];
  return out;
}

/** Run times per task type, the most frequent first, at most `limit` of them. */
export function runTimeBars(stats: Pick<HistoryStats, 'run_time'>, limit = 10): RunTimeBar[] {
  return [...(stats.run_time ?? [])]
    .sort((a, b) => b.count - a.count || a.type.localeCompare(b.type))
    .slice(0, limit)
    .map((r) => ({ type: r.type, count: r.count, p50: r.p50_s, p95: Math.max(r.p95_s, r.p50_s) }));
}

/** Seconds as a short label: "40 ms", "1.2 s", "12 s", "3.5 min". */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '–';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
