'use client';

import { useEffect, useState } from 'react';
import { api, ApiError, type HistoryStats } from '@/lib/api';
import { hourBars, runTimeBars } from '@/lib/historyStats';
import { backoffInterval, startPolling } from '@/lib/poll';
import JobsPerHourChart from './JobsPerHourChart';
import RunTimeChart from './RunTimeChart';

const HOURS = 24;
const EVERY_MS = 30_000;

/** The Dashboard's charts from the history database; a short note when there is none. */
export default function HistoryCharts() {
  const [stats, setStats] = useState<{ data: HistoryStats; at: number } | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const poller = startPolling<HistoryStats>({
      load: (signal) => api.getHistoryStats(HOURS, signal),
      onData(data) {
        setStats({ data, at: Date.now() });
        setError(null);
      },
      onError: (err) => setError(err instanceof ApiError ? err.message : String(err)),
      // Without a history database there is nothing to refresh.
      interval: (last, ctx) => (last && !last.enabled ? false : backoffInterval(ctx, EVERY_MS)),
    });
    return () => poller.stop();
  }, []);

  if (stats && !stats.data.enabled) {
    return (
      <section className="card" aria-labelledby="history-h" data-history="off">
        <h2 id="history-h">History</h2>
        <p className="muted">
          No history database (<code>AGENTQ_DATABASE_URL</code> is empty): the charts of jobs per hour and run times need one.
        </p>
      </section>
    );
  }
  return (
    <>
      {error && (
        <p className="alert alert-warn" role="alert">
          History: {error}
        </p>
      )}
      <section className="card" aria-labelledby="per-hour-h" data-history="on">
        <h2 id="per-hour-h">Jobs per hour</h2>
        {stats ? <JobsPerHourChart bars={hourBars(stats.data, stats.at, HOURS)} /> : <p className="muted">Loading…</p>}
      </section>
      <section className="card" aria-labelledby="run-time-h">
        <h2 id="run-time-h">Run time by task</h2>
        {stats ? <RunTimeChart rows={runTimeBars(stats.data)} /> : <p className="muted">Loading…</p>}
      </section>
    </>
  );
}
