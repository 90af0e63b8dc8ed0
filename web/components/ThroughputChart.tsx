import { niceMax, type RatePoint } from '@/lib/throughput';

interface Props {
  points: RatePoint[];
  windowMs: number;
  now: number;
}

const W = 640;
const H = 200;
const PAD = { l: 44, r: 12, t: 12, b: 26 };

const fmt = (v: number) => (v === 0 ? '0' : v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2));

/** Jobs finished per second over the window, drawn as a plain SVG line with its area. */
export default function ThroughputChart({ points, windowMs, now }: Props) {
  const peak = points.reduce((m, p) => Math.max(m, p.perSec), 0);
  const max = niceMax(peak);
  const latest = points.length ? points[points.length - 1].perSec : 0;
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const x = (t: number) => PAD.l + Math.max(0, Math.min(1, 1 - (now - t) / windowMs)) * iw;
  const y = (v: number) => PAD.t + ih - (v / max) * ih;
  const line = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.perSec).toFixed(1)}`).join('');
  const area =
    points.length > 1
      ? `${line}L${x(points[points.length - 1].t).toFixed(1)},${y(0)}L${x(points[0].t).toFixed(1)},${y(0)}Z`
      : '';
  const minutes = Math.round(windowMs / 60000);
  const ticks = Array.from({ length: minutes + 1 }, (_, i) => i);
  const label =
    points.length < 1
      ? `Jobs finished per second over the last ${minutes} minutes: collecting samples`
      : `Jobs finished per second over the last ${minutes} minutes: now ${fmt(latest)}, peak ${fmt(peak)}`;

  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} className="chart-svg">
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line className="grid" x1={PAD.l} x2={W - PAD.r} y1={y(max * f)} y2={y(max * f)} />
            <text className="axis" x={PAD.l - 6} y={y(max * f) + 4} textAnchor="end">
              {fmt(max * f)}
            </text>
          </g>
        ))}
        {ticks.map((m) => (
          <text key={m} className="axis" x={x(now - m * 60000)} y={H - 6} textAnchor={m === 0 ? 'end' : 'middle'}>
            {m === 0 ? 'now' : `−${m} min`}
          </text>
        ))}
        {area && <path className="area" d={area} />}
        {line && <path className="line" d={line} />}
      </svg>
      <figcaption className="muted small">
        Jobs finished per second (succeeded + failed), sampled from the queue counters.{' '}
        <span className="mono">now {fmt(latest)}/s</span> · <span className="mono">peak {fmt(peak)}/s</span>
      </figcaption>
    </figure>
  );
}
