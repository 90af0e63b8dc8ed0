import { niceMax } from '@/lib/throughput';
import { STACK, totals, type HourBar, type StackKey } from '@/lib/historyStats';

const W = 640;
const H = 220;
const PAD = { l: 44, r: 12, t: 12, b: 26 };
const KEYS: StackKey[] = [...STACK, 'other'];

const hourLabel = (t: number) => `${String(new Date(t).getHours()).padStart(2, '0')}:00`;

/** Jobs that ended per hour, one bar per hour stacked by status, as an SVG picture. */
export default function JobsPerHourChart({ bars }: { bars: HourBar[] }) {
  const max = niceMax(bars.reduce((m, b) => Math.max(m, b.total), 0));
  const sum = totals(bars);
  const all = KEYS.reduce((n, k) => n + sum[k], 0);
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const slot = iw / Math.max(1, bars.length);
  const bw = Math.max(2, slot * 0.72);
  const y = (v: number) => PAD.t + ih - (v / max) * ih;
  const shown = KEYS.filter((k) => k !== 'other' || sum.other > 0);
  const label =
    `Jobs that ended per hour over the last ${bars.length} hours: ` +
    (all === 0 ? 'none' : shown.map((k) => `${sum[k]} ${k}`).join(', '));

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} className="chart-svg" data-chart="jobs-per-hour">
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line className="grid" x1={PAD.l} x2={W - PAD.r} y1={y(max * f)} y2={y(max * f)} />
            <text className="axis" x={PAD.l - 6} y={y(max * f) + 4} textAnchor="end">
              {Number.isInteger(max * f) ? max * f : (max * f).toFixed(1)}
            </text>
          </g>
        ))}
        {bars.map((b, i) => {
          const x = PAD.l + i * slot + (slot - bw) / 2;
          let base = 0;
          return (
            <g key={b.t} className="bar" data-hour={new Date(b.t).toISOString()}>
              <title>{`${hourLabel(b.t)}: ${b.total} ended${b.total ? ` (${shown.filter((k) => b.counts[k]).map((k) => `${b.counts[k]} ${k}`).join(', ')})` : ''}`}</title>
              {KEYS.map((k) => {
                const n = b.counts[k];
                if (!n) return null;
                const top = y(base + n);
                const h = y(base) - top;
                base += n;
                return <rect key={k} className={`seg seg-${k}`} x={x.toFixed(1)} y={top.toFixed(1)} width={bw.toFixed(1)} height={h.toFixed(1)} />;
              })}
              {i % 6 === (bars.length - 1) % 6 && (
                <text className="axis" x={x + bw / 2} y={H - 6} textAnchor="middle">
                  {hourLabel(b.t)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption className="muted small legend">
        {shown.map((k) => (
          <span key={k} className="legend-item">
            <span className={`swatch seg-${k}`} aria-hidden="true" /> {k} <span className="mono">{sum[k]}</span>
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
