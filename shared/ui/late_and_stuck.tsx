/**
 * Late and stuck (issue 15): the `Late` mark of a run not started in time
 * (edgeflow.mark_late_runs), and the warning of queues that have work no
 * online worker serves (`no_worker` of waiting_for: edgeflow._handler_online),
 * shown on the runs list and the workers page. Inline styles in the amber of
 * the run page's waiting notice, so no stylesheet changes.
 */
import type { Sql } from "../db/sql.ts";

const LATE = "background:#fef0c7;color:#93370d;margin-left:6px;";
const BOX = "background:#fffaeb;color:#7a2e0e;border:1px solid #fedf89;border-radius:6px;" +
  "padding:8px 12px;margin:8px 0;list-style:none;";

/** `Late` beside a run's state, when the run is late. */
export function LateBadge(props: { late?: boolean; at?: string | null }) {
  if (!props.late) return null;
  return (
    <span
      class="badge late"
      data-late="true"
      style={LATE}
      title={props.at ? `not started in time: late since ${props.at}` : "not started in time"}
    >
      Late
    </span>
  );
}

/** A pool's handler with queued work and no online worker serving it. */
export interface UnservedQueue {
  pool: string;
  handler: string;
  queued: number;
  /** Age of the oldest task whose retry wait is over (seconds). */
  oldest_seconds: number;
}

/** The unserved queues, largest first (at most 20: a warning, not a report). */
export async function unservedQueues(sql: Sql): Promise<UnservedQueue[]> {
  const [row] = await sql<{ q: UnservedQueue[] }>`select edgeflow.unserved_queues(20) as q`;
  return row.q;
}

/** The warning, or nothing when every queue with work has a worker. */
export function StuckQueues(props: { queues: UnservedQueue[]; workersHref: string }) {
  if (!props.queues.length) return null;
  return (
    <ul id="stuck-queues" role="alert" style={BOX}>
      {props.queues.map((q) => (
        <li data-pool={q.pool} data-handler={q.handler}>
          <b>{q.queued}</b> task{q.queued === 1 ? "" : "s"} of handler <code>{q.handler}</code>{" "}
          in pool <code>{q.pool}</code> wait{q.queued === 1 ? "s" : ""}, oldest for{" "}
          {Math.round(q.oldest_seconds)} s: no online worker serves this handler (
          <a href={props.workersHref}>workers</a>)
        </li>
      ))}
    </ul>
  );
}
