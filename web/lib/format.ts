import type { JobRecord } from './api';

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : NaN);

/** "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min". */
export function formatDuration(millis: number): string {
  if (!Number.isFinite(millis) || millis < 0) return '–';
  if (millis < 1000) return `${Math.round(millis)} ms`;
  const s = millis / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** Run time of a job: finished − started, or so far while it runs; null before it starts. */
export function jobDuration(job: Pick<JobRecord, 'started_at' | 'finished_at' | 'status'>, now = Date.now()): number | null {
  const start = ms(job.started_at);
  if (Number.isNaN(start)) return null;
  const end = ms(job.finished_at);
  if (!Number.isNaN(end)) return Math.max(0, end - start);
  return job.status === 'running' ? Math.max(0, now - start) : null;
}

/** "just now", "5 s ago", "3 min ago", "2 h ago", else the local date and time. */
export function formatAgo(iso: string | null | undefined, now = Date.now()): string {
  const t = ms(iso);
  if (Number.isNaN(t)) return '–';
  const s = Math.round((now - t) / 1000);
  if (s < 2) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(t).toLocaleString();
}

export function formatTime(iso: string | number | null | undefined): string {
  if (iso == null) return '–';
  const t = typeof iso === 'number' ? (iso < 1e12 ? iso * 1000 : iso) : Date.parse(iso);
  if (Number.isNaN(t)) return String(iso);
  return new Date(t).toLocaleTimeString(undefined, {
    hour12: false,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    fractionalSecondDigits: 1,
  });
}
