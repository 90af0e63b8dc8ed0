import type { UsageRow } from '@/lib/api';

const tokens = new Intl.NumberFormat('en-US');

/** LLM tokens per tenant and model over the last hour (GET /usage): nothing while loading
 * or when the API could not answer. */
export default function UsageTable({ usage }: { usage: UsageRow[] | null | undefined }) {
  if (!usage) return null;
  return (
    <section className="card" aria-labelledby="usage-h">
      <h2 id="usage-h">Tokens in the last hour</h2>
      <div className="table-wrap">
        <table className="usage">
          <thead>
            <tr>
              <th scope="col">Tenant</th>
              <th scope="col">Model</th>
              <th scope="col" className="num">Prompt</th>
              <th scope="col" className="num">Completion</th>
              <th scope="col" className="num">Calls</th>
              <th scope="col" className="num">Cost</th>
            </tr>
          </thead>
          <tbody>
            {usage.map((u) => (
              <tr key={`${u.tenant}|${u.model}`}>
                <th scope="row">{u.tenant}</th>
                <td>{u.model}</td>
                <td className="num">{tokens.format(u.prompt_tokens)}</td>
                <td className="num">{tokens.format(u.completion_tokens)}</td>
                <td className="num">{u.calls}</td>
                <td className="num">{u.cost == null ? <span className="muted">–</span> : `$${u.cost.toFixed(4)}`}</td>
              </tr>
            ))}
            {usage.length === 0 && (
              <tr>
                <td colSpan={6} className="muted empty">
                  No LLM calls in the last hour.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
