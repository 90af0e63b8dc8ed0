export default function StatusBadge({ status }: { status: string | null | undefined }) {
  const s = status ?? 'unknown';
  return <span className={`badge badge-${s}`}>{s}</span>;
}
