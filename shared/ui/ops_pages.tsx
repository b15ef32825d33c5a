// deno-lint-ignore-file jsx-key
// (Rendered once on the server: there is no reconciliation for keys to help, and
// precompiled JSX would print `key` as an HTML attribute.)
/**
 * Operations pages (workers, concurrency limits) and the pages every
 * dashboard needs: sign-in and a friendly error.
 */
import { StuckQueues, type UnservedQueue } from "./late_and_stuck.tsx";
import { Badge, Page, Time, type Ui } from "./layout.tsx";
import type { LimitRow } from "./queries.ts";

type Doc = Record<string, unknown>;

/** `12 s ago`, `3 min ago`, `2 h ago`. */
function ago(seconds: number): string {
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

/** `/ui/workers`: every worker with its last heartbeat. */
export function WorkersPage(props: { ui: Ui; workers: Doc[]; stuck?: UnservedQueue[] }) {
  return (
    <Page ui={props.ui} title="Workers" active="/workers">
      <h1>Workers</h1>
      <StuckQueues queues={props.stuck ?? []} workersHref={`${props.ui.base}/workers`} />
      {props.workers.length === 0
        ? <p class="muted">No worker has sent a heartbeat yet.</p>
        : (
          <table>
            <tr>
              <th>Worker</th>
              <th>Status</th>
              <th>Pool</th>
              <th>Handlers</th>
              <th>Capacity</th>
              <th>Last heartbeat</th>
            </tr>
            {props.workers.map((w) => (
              <tr>
                <td>
                  <b>{String(w.name)}</b>
                </td>
                <td>
                  <Badge state={String(w.status)} />
                </td>
                <td>{String(w.pool)}</td>
                <td class="small">
                  {Array.isArray(w.handlers)
                    ? w.handlers.join(", ")
                    : <span class="muted">any</span>}
                </td>
                <td class="num">{String(w.capacity)}</td>
                <td>
                  {ago(Number(w.seconds_ago))}{" "}
                  <span class="muted small">
                    (<Time at={w.last_heartbeat_at as string} />)
                  </span>
                </td>
              </tr>
            ))}
          </table>
        )}
    </Page>
  );
}

/** `/ui/concurrency`: each limit and how many of its slots are held now. */
export function ConcurrencyPage(props: { ui: Ui; limits: LimitRow[] | null }) {
  const limits = props.limits ?? [];
  return (
    <Page ui={props.ui} title="Concurrency" active="/concurrency">
      <h1>Concurrency limits</h1>
      {limits.length === 0 ? <p class="muted">No concurrency limits are configured.</p> : (
        <table>
          <tr>
            <th>Kind</th>
            <th>Name</th>
            <th>Slots in use</th>
            <th>Limit</th>
            <th></th>
          </tr>
          {limits.map((l) => (
            <tr>
              <td>{l.kind}</td>
              <td>
                <b>{l.name}</b>
              </td>
              <td class="num">{l.in_use}</td>
              <td class="num">{l.limit}</td>
              <td style="width:40%">
                <meter min={0} max={Math.max(l.limit, 1)} value={l.in_use} style="width:100%" />
              </td>
            </tr>
          ))}
        </table>
      )}
    </Page>
  );
}

/** The sign-in form; `error` after a refused key. */
export function LoginPage(props: { ui: Ui; next: string; error?: string }) {
  return (
    <Page ui={props.ui} title="Sign in">
      <div class="card" style="max-width:440px">
        <h1>Sign in</h1>
        <p class="muted small">
          Paste an API key. Keys with the <code>read</code> scope can look but not act.
        </p>
        {props.error && <div class="flash">{props.error}</div>}
        <form method="post" action={`${props.ui.base}/login`}>
          <input type="hidden" name="next" value={props.next} />
          <div class="field">
            <label for="key">API key</label>
            <input id="key" name="key" type="password" autocomplete="off" required autofocus />
          </div>
          <button class="primary" type="submit">Sign in</button>
        </form>
      </div>
    </Page>
  );
}

/** A problem shown as a page (404 unknown run, 403 read-only key, 422 bad filter, …). */
export function ErrorPage(
  props: {
    ui: Ui;
    status: number;
    title: string;
    detail: string;
    errors?: { path: string; message: string }[];
  },
) {
  return (
    <Page ui={props.ui} title={props.title}>
      <h1>{props.status} · {props.title}</h1>
      <p>{props.detail}</p>
      {(props.errors ?? []).map((e) => <p class="error">{e.path}: {e.message}</p>)}
      <p>
        <a href={`${props.ui.base}/runs`}>Back to the dashboard</a>
      </p>
    </Page>
  );
}
