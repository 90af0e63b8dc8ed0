'use client';

import { useEffect, useState } from 'react';
import { api, ApiError, type QueuesResponse, type SchedulesResponse, type UsageResponse, type WorkersResponse } from '@/lib/api';
import { formatAgo } from '@/lib/format';
import { backoffInterval, startPolling } from '@/lib/poll';
import { addSample, finishedTotal, rates, type Sample } from '@/lib/throughput';
import HistoryCharts from './HistoryCharts';
import SchedulesTable from './SchedulesTable';
import ThroughputChart from './ThroughputChart';
import UsageTable from './UsageTable';

const WINDOW_MS = 5 * 60_000;
const EVERY_MS = 2000;

interface Snapshot {
  queues: QueuesResponse;
  workers: WorkersResponse;
  schedules: SchedulesResponse | null; // null: the API could not list them
  usage: UsageResponse | null; // null: the API could not answer
  at: number;
}

export default function DashboardPage() {
  const [snap, setSnap] = useState<Snapshot | null>(null);
  const [samples, setSamples] = useState<Sample[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const poller = startPolling<Snapshot>({
      async load(signal) {
        const [queues, workers, schedules, usage] = await Promise.all([
          api.getQueues(signal),
          api.getWorkers(signal),
          api.getSchedules(signal).catch(() => null),
          api.getUsage(signal).catch(() => null),
        ]);
        return { queues, workers, schedules, usage, at: Date.now() };
      },
      onData(s) {
        setSnap(s);
        setError(null);
        setSamples((prev) => addSample(prev, { t: s.at, finished: finishedTotal(s.queues) }, WINDOW_MS));
      },
      onError: (err) => setError(err instanceof ApiError ? err.message : String(err)),
      interval: (_last, ctx) => backoffInterval(ctx, EVERY_MS),
    });
    return () => poller.stop();
  }, []);

  const q = snap?.queues;
  const workers = snap?.workers.workers ?? [];
  const totals = q?.queues.reduce((a, x) => ({ queued: a.queued + x.queued, running: a.running + x.running }), {
    queued: 0,
    running: 0,
  });

  return (
    <>
      <h1>Dashboard</h1>
      {error && (
        <p className="alert alert-error" role="alert">
          {error}
        </p>
      )}
      <section aria-label="Totals" className="stats">
        {[
          ['Queued', totals?.queued],
          ['Running', totals?.running],
          ['Scheduled', q?.scheduled],
          ['Dead', q?.dead],
          ['Workers', q ? Math.max(q.workers, workers.length) : undefined],
        ].map(([name, value]) => (
          <div className="stat card" key={name as string} data-stat={String(name).toLowerCase()}>
            <span className="stat-label">{name}</span>
            <span className="stat-value">{value ?? '–'}</span>
          </div>
        ))}
      </section>

      <section className="card" aria-labelledby="rate-h">
        <h2 id="rate-h">Throughput</h2>
        <ThroughputChart points={rates(samples)} windowMs={WINDOW_MS} now={snap?.at ?? 0} />
      </section>

      <HistoryCharts />

      <section className="card" aria-labelledby="queues-h">
        <h2 id="queues-h">Queues</h2>
        <div className="table-wrap">
          <table className="queues">
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col" className="num">Queued</th>
                <th scope="col" className="num">Running</th>
                <th scope="col" className="num">Enqueued</th>
                <th scope="col" className="num">Succeeded</th>
                <th scope="col" className="num">Failed</th>
                <th scope="col" className="num">Retried</th>
                <th scope="col" className="num">Recovered</th>
                <th scope="col" className="num">Cancelled</th>
              </tr>
            </thead>
            <tbody>
              {q?.queues.map((x) => (
                <tr key={x.name}>
                  <th scope="row">{x.name}</th>
                  <td className="num">{x.queued}</td>
                  <td className="num">{x.running}</td>
                  <td className="num">{x.enqueued}</td>
                  <td className="num">{x.succeeded}</td>
                  <td className="num">{x.failed}</td>
                  <td className="num">{x.retried}</td>
                  <td className="num">{x.recovered}</td>
                  <td className="num">{x.cancelled}</td>
                </tr>
              ))}
              {q && q.queues.length === 0 && (
                <tr>
                  <td colSpan={9} className="muted empty">
                    No queues yet: submit a job.
                  </td>
                </tr>
              )}
              {!q && (
                <tr>
                  <td colSpan={9} className="muted empty">
                    Loading…
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>

      {q?.tenants && q.tenants.length > 0 && (
        <section className="card" aria-labelledby="tenants-h">
          <h2 id="tenants-h">Tenants</h2>
          <div className="table-wrap">
            <table className="tenants">
              <thead>
                <tr>
                  <th scope="col">Tenant</th>
                  <th scope="col" className="num">Running</th>
                  <th scope="col" className="num">Queued</th>
                </tr>
              </thead>
              <tbody>
                {q.tenants.map((t) => (
                  <tr key={t.tenant}>
                    <th scope="row">{t.tenant}</th>
                    <td className="num">{t.running}</td>
                    <td className="num" title={t.estimated ? 'estimated from the oldest queued jobs' : undefined}>
                      {t.estimated ? `≈${t.queued}` : t.queued}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}

      <UsageTable usage={snap?.usage?.usage} />

      <section className="card" aria-labelledby="workers-h">
        <h2 id="workers-h">Workers</h2>
        <div className="table-wrap">
          <table className="workers">
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Host</th>
                <th scope="col" className="num">PID</th>
                <th scope="col">Queues</th>
                <th scope="col" className="num">Busy</th>
                <th scope="col">Heartbeat</th>
              </tr>
            </thead>
            <tbody>
              {workers.map((w) => (
                <tr key={w.id}>
                  <th scope="row" className="mono">
                    {w.id}
                  </th>
                  <td>{w.host}</td>
                  <td className="num">{w.pid}</td>
                  <td>{(w.queues ?? []).join(', ')}</td>
                  <td className="num">
                    {(w.jobs ?? []).length}/{w.concurrency}
                  </td>
                  <td>{formatAgo(w.last_heartbeat, snap?.at)}</td>
                </tr>
              ))}
              {snap && workers.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted empty">
                    No live workers: start one with <code>python -m src.worker</code>.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>

      <SchedulesTable schedules={snap ? (snap.schedules?.schedules ?? null) : undefined} now={snap?.at} />
    </>
  );
}
