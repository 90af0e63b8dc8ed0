import type { ScheduleInfo } from '@/lib/api';
import { formatAgo } from '@/lib/format';

/** A tick as local date and time, the ISO UTC time in its tooltip. */
function When({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span className="muted">never</span>;
  return <time dateTime={iso} title={iso}>{new Date(iso).toLocaleString()}</time>;
}

/** The cron schedules (GET /schedules): undefined while loading, null when unavailable. */
export default function SchedulesTable({ schedules, now }: { schedules: ScheduleInfo[] | null | undefined; now?: number }) {
  return (
    <section className="card" aria-labelledby="schedules-h">
      <h2 id="schedules-h">Schedules</h2>
      <div className="table-wrap">
        <table className="schedules">
          <thead>
            <tr>
              <th scope="col">Schedule</th>
              <th scope="col">Task</th>
              <th scope="col">Cron</th>
              <th scope="col">Next run</th>
              <th scope="col">Last run</th>
            </tr>
          </thead>
          <tbody>
            {schedules?.map((s) => (
              <tr key={s.name} data-schedule={s.name}>
                <th scope="row">{s.name}</th>
                <td>{s.task}</td>
                <td>
                  <code>{s.cron}</code>
                  {s.timezone !== 'UTC' && <span className="muted"> ({s.timezone})</span>}
                </td>
                <td>
                  <When iso={s.next_run} />
                </td>
                <td title={s.last_run ?? undefined}>{s.last_run ? formatAgo(s.last_run, now) : <When iso={null} />}</td>
              </tr>
            ))}
            {schedules?.length === 0 && (
              <tr>
                <td colSpan={5} className="muted empty">
                  No schedules: give a task <code>schedule=</code> or set <code>AGENTQ_SCHEDULES</code>.
                </td>
              </tr>
            )}
            {schedules === null && (
              <tr>
                <td colSpan={5} className="muted empty">
                  Schedules unavailable.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
