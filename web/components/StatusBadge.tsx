const TITLES: Record<string, string> = {
  waiting: 'Paused until a signal arrives (or its wait runs out); it holds no worker',
};

export default function StatusBadge({ status }: { status: string | null | undefined }) {
  const s = status ?? 'unknown';
  return (
    <span className={`badge badge-${s}`} title={TITLES[s]}>
      {s}
    </span>
  );
}

/** A job read from the history database: Redis no longer holds it (nor its events). */
export function ArchivedBadge() {
  return (
    <span className="badge badge-archived" title="From the history database: Redis no longer holds this job or its events">
      archived
    </span>
  );
}
