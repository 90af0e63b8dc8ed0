interface Props {
  value: number;
  label: string;
  /** the step message, read out with the value */
  message?: string;
  status?: string | null;
}

/** A determinate progress bar; the fill moves with a transform, so nothing around it reflows. */
export default function ProgressBar({ value, label, message, status }: Props) {
  const v = Math.max(0, Math.min(100, Math.round(value)));
  return (
    <div className={`progress progress-${status ?? 'none'}`}>
      <div className="progress-head">
        <span className="progress-message" title={message || undefined}>
          {message || '\u00a0'}
        </span>
        <span className="progress-value" aria-hidden="true">
          {v}%
        </span>
      </div>
      <div
        className="progress-track"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={v}
        aria-valuetext={message ? `${v}% – ${message}` : `${v}%`}
      >
        <div className="progress-fill" style={{ transform: `scaleX(${v / 100})` }} />
      </div>
    </div>
  );
}
