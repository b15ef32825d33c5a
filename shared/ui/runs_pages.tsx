// deno-lint-ignore-file jsx-key
// (Rendered once on the server: there is no reconciliation for keys to help, and
// precompiled JSX would print `key` as an HTML attribute.)
/**
 * Run pages: the paginated, filterable runs list, and a run's page around
 * its live part (`run_live.tsx`).
 */
import { raw } from "hono/html";
import type { RunDocument } from "../engine/runs.ts";
import type { RunEvent } from "../app/events_routes.ts";
import { FINAL_RUN_STATES } from "../app/events_routes.ts";
import { Badge, duration, Page, Sep, Time, type Ui, withQuery } from "./layout.tsx";
import type { RunRow } from "./queries.ts";
import { RUN_LIVE_JS, RunLive } from "./run_live.tsx";
import type { LogPage } from "../engine/logs.ts";
import type { TimelineRow } from "./timeline_svg.tsx";
import { RUN_EXTRAS_CSS, RUN_LOGS_JS, RunLogs } from "./run_logs.tsx";
import { ActivityChart, ChartStyle } from "./charts.tsx";
import type { ActivityHour } from "./run_stats.ts";
import { LateBadge, StuckQueues, type UnservedQueue } from "./late_and_stuck.tsx";

/** Every run state, for the status filter. */
export const RUN_STATES = [
  "SCHEDULED",
  "PENDING",
  "RUNNING",
  "COMPLETED",
  "FAILED",
  "CANCELLING",
  "CANCELLED",
  "CRASHED",
];

/** The filters a runs list was asked for. */
export interface RunFilters {
  status?: string;
  flow?: string;
  deployment?: string;
  /** Page size, when not the default. */
  limit?: string;
}

function Select(props: { name: string; label: string; value?: string; options: string[] }) {
  return (
    <div>
      <label for={`f-${props.name}`}>{props.label}</label>
      <select id={`f-${props.name}`} name={props.name}>
        <option value="">all</option>
        {props.options.map((o) => <option value={o} selected={o === props.value}>{o}</option>)}
      </select>
    </div>
  );
}

/** "No FAILED runs of flow etl.", "No runs yet.": what an empty list means, filters included. */
export function emptyText(filters: RunFilters, paged: boolean): string {
  const of = [
    filters.flow ? ` of flow ${filters.flow}` : "",
    filters.deployment ? ` in deployment ${filters.deployment}` : "",
  ].join("");
  const filtered = !!(filters.status || filters.flow || filters.deployment);
  const tail = paged ? " on this page" : filtered ? "" : " yet";
  return `No ${filters.status ? `${filters.status} ` : ""}runs${of}${tail}.`;
}

/**
 * The first page of the runs list follows new runs and state changes: every few seconds while the
 * tab is visible it fetches itself and swaps the list in (runs have no shared event stream; one
 * small GET of an indexed page is cheaper than a stream per run).
 */
export const RUNS_LIVE_JS = `
(() => {
  const list = document.getElementById("runs-list");
  if (!list || list.dataset.live !== "true") return;
  const tick = async () => {
    if (document.visibilityState === "visible") {
      try {
        const res = await fetch(location.href, { credentials: "same-origin" });
        if (res.ok) {
          const doc = new DOMParser().parseFromString(await res.text(), "text/html");
          const fresh = doc.getElementById("runs-list");
          if (fresh && fresh.innerHTML !== list.innerHTML) list.innerHTML = fresh.innerHTML;
        }
      } catch (_) { /* the next tick tries again */ }
    }
    setTimeout(tick, Number(list.dataset.every) || 3000);
  };
  setTimeout(tick, Number(list.dataset.every) || 3000);
})();
`;

/** `/ui/runs`: newest first, filtered, one page at a time (cursor, never offset). */
export function RunsPage(props: {
  ui: Ui;
  runs: RunRow[];
  filters: RunFilters;
  choices: { flows: string[]; deployments: string[] };
  next: string | null;
  paged: boolean;
  /** Runs per hour of the last 24 hours (the activity chart). */
  activity?: ActivityHour[];
  /** Queues with work and no online worker (the warning above the list). */
  stuck?: UnservedQueue[];
}) {
  const { ui, filters } = props;
  const here = `${ui.base}/runs`;
  return (
    <Page ui={ui} title="Runs" active="/runs">
      <h1>Runs</h1>
      <StuckQueues queues={props.stuck ?? []} workersHref={`${ui.base}/workers`} />
      {props.activity && (
        <>
          <ChartStyle />
          <ActivityChart hours={props.activity} />
        </>
      )}
      <form class="filters" method="get" action={here}>
        <Select name="status" label="Status" value={filters.status} options={RUN_STATES} />
        <Select name="flow" label="Flow" value={filters.flow} options={props.choices.flows} />
        <Select
          name="deployment"
          label="Deployment"
          value={filters.deployment}
          options={props.choices.deployments}
        />
        {filters.limit && <input type="hidden" name="limit" value={filters.limit} />}
        <button type="submit">Filter</button>
      </form>
      <div id="runs-list" data-live={props.paged ? "false" : "true"}>
        {props.runs.length === 0
          ? <p class="muted" id="no-runs">{emptyText(filters, props.paged)}</p>
          : (
            <table id="runs">
              <tr>
                <th>Run</th>
                <th>Flow</th>
                <th>Deployment</th>
                <th>Status</th>
                <th>Created</th>
                <th>Duration</th>
              </tr>
              {props.runs.map((r) => (
                <tr data-run={r.id}>
                  <td>
                    <a href={`${ui.base}/runs/${r.id}`}>
                      <code>{r.id.slice(0, 8)}</code>
                    </a>
                  </td>
                  <td>
                    {r.flow} <span class="muted">v{r.version}</span>
                  </td>
                  <td>{r.deployment ?? <span class="muted">—</span>}</td>
                  <td>
                    <Badge state={r.status} />
                    <LateBadge late={r.late} at={r.late_at} />
                  </td>
                  <td>
                    <Time at={r.created_at} />
                  </td>
                  <td>{duration(r.started_at, r.ended_at, ui.now)}</td>
                </tr>
              ))}
            </table>
          )}
      </div>
      <div class="pager">
        {props.paged && <a href={withQuery(here, { ...filters })}>← Newest</a>}
        {props.next && (
          <a id="older" href={withQuery(here, { ...filters, cursor: props.next })}>Older →</a>
        )}
      </div>
      {!props.paged && <script nonce={ui.nonce}>{raw(RUNS_LIVE_JS)}</script>}
    </Page>
  );
}

/** `/ui/runs/:id`. */
export function RunPage(props: {
  ui: Ui;
  run: RunDocument;
  events: RunEvent[];
  lastId: number;
  timeline?: TimelineRow[];
  logs?: LogPage;
}) {
  const { ui, run } = props;
  const final = FINAL_RUN_STATES.has(run.status);
  return (
    <Page ui={ui} title={`Run ${run.id.slice(0, 8)}`} active="/runs">
      <h1>
        Run <code>{run.id}</code>
      </h1>
      <p>
        Flow{" "}
        <a href={`${ui.base}/flows/${encodeURIComponent(run.flow)}?version=${run.version}`}>
          {run.flow} v{run.version}
        </a>
        {run.deployment && (
          <>
            <Sep />
            deployment{" "}
            <a href={withQuery(`${ui.base}/runs`, { deployment: run.deployment })}>
              {run.deployment}
            </a>
          </>
        )}
        <Sep />
        parameters <code>{JSON.stringify(run.parameters)}</code>
      </p>
      <div
        id="live"
        data-events={`/trigger/runs/${run.id}/events`}
        data-fragment={`${ui.base}/runs/${run.id}/live`}
        data-last-id={String(props.lastId)}
        data-final={String(final)}
      >
        <RunLive ui={ui} run={run} events={props.events} timeline={props.timeline} />
      </div>
      <style>{raw(RUN_EXTRAS_CSS)}</style>
      {props.logs && (
        <RunLogs
          ui={ui}
          runId={run.id}
          steps={run.steps.map((s) => s.slug)}
          page={props.logs}
        />
      )}
      <script nonce={ui.nonce}>{raw(RUN_LIVE_JS)}</script>
      {props.logs && <script nonce={ui.nonce}>{raw(RUN_LOGS_JS)}</script>}
    </Page>
  );
}
