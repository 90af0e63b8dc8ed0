import { niceMax } from '@/lib/throughput';
import { formatSeconds, type RunTimeBar } from '@/lib/historyStats';

const W = 640;
const PAD = { l: 150, r: 150, t: 8, b: 24 };
const ROW = 30;

/** Run time p50 and p95 per task type (succeeded jobs), as horizontal bars in SVG. */
export default function RunTimeChart({ rows }: { rows: RunTimeBar[] }) {
  const H = PAD.t + Math.max(1, rows.length) * ROW + PAD.b;
  const max = niceMax(rows.reduce((m, r) => Math.max(m, r.p95), 0));
  const iw = W - PAD.l - PAD.r;
  const x = (v: number) => PAD.l + (v / max) * iw;
  const label = rows.length
    ? `Run time per task type: ${rows.map((r) => `${r.type} p50 ${formatSeconds(r.p50)}, p95 ${formatSeconds(r.p95)}`).join('; ')}`
    : 'Run time per task type: no succeeded job yet';

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} className="chart-svg" data-chart="run-time">
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line className="grid" x1={x(max * f)} x2={x(max * f)} y1={PAD.t} y2={H - PAD.b} />
            <text className="axis" x={x(max * f)} y={H - 6} textAnchor={f === 0 ? 'start' : f === 1 ? 'end' : 'middle'}>
              {formatSeconds(max * f)}
            </text>
          </g>
        ))}
        {rows.map((r, i) => {
          const top = PAD.t + i * ROW;
          return (
            <g key={r.type} className="row" data-type={r.type}>
              <title>{`${r.type}: p50 ${formatSeconds(r.p50)}, p95 ${formatSeconds(r.p95)} (${r.count} jobs)`}</title>
              <text className="axis label" x={PAD.l - 8} y={top + ROW / 2 + 4} textAnchor="end">
                {r.type.length > 22 ? `${r.type.slice(0, 21)}…` : r.type}
              </text>
              <rect className="p95" x={PAD.l} y={top + 5} width={Math.max(1, x(r.p95) - PAD.l).toFixed(1)} height={ROW - 10} />
              <rect className="p50" x={PAD.l} y={top + 9} width={Math.max(1, x(r.p50) - PAD.l).toFixed(1)} height={ROW - 18} />
              <text className="axis" x={W - PAD.r + 8} y={top + ROW / 2 + 4}>
                {`${formatSeconds(r.p50)} / ${formatSeconds(r.p95)}`}
              </text>
            </g>
          );
        })}
        {rows.length === 0 && (
          <text className="axis" x={W / 2} y={PAD.t + ROW / 2 + 4} textAnchor="middle">
            No succeeded job in the window
          </text>
        )}
      </svg>
      <figcaption className="muted small legend">
        <span className="legend-item">
          <span className="swatch p50" aria-hidden="true" /> p50
        </span>
        <span className="legend-item">
          <span className="swatch p95" aria-hidden="true" /> p95
        </span>{' '}
        run time of succeeded jobs (started → finished); right: p50 / p95
      </figcaption>
    </figure>
  );
}
