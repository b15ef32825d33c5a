/**
 * What is registered and deployed: flows with their versions and DAG, and
 * deployments with schedules, next fire times and the pause toggle.
 */
import { type DagStep, DagSvg } from "./dag_svg.tsx";
import { Badge, Json, Page, Sep, Time, type Ui, withQuery } from "./layout.tsx";
import { ChartStyle, StatsStrip } from "./charts.tsx";
import type { RunStats } from "./run_stats.ts";

type Doc = Record<string, unknown>;

/** `/ui/flows`: the latest version of every flow. */
export function FlowsPage(props: { ui: Ui; flows: Doc[] }) {
  const { ui } = props;
  return (
    <Page ui={ui} title="Flows" active="/flows">
      <h1>Flows</h1>
      {props.flows.length === 0
        ? <p class="muted">No flows registered yet (POST /register).</p>
        : (
          <table>
            <tr>
              <th>Flow</th>
              <th>Latest version</th>
              <th>Versions</th>
              <th>Steps</th>
              <th>Registered</th>
              <th>Description</th>
            </tr>
            {props.flows.map((f) => (
              <tr>
                <td>
                  <a href={`${ui.base}/flows/${encodeURIComponent(String(f.name))}`}>
                    {String(f.name)}
                  </a>
                </td>
                <td>v{String(f.version)} {f.archived ? <Badge state="ARCHIVED" /> : null}</td>
                <td class="num">{String(f.versions)}</td>
                <td class="num">{String(f.steps)}</td>
                <td>
                  <Time at={f.created_at as string} />
                </td>
                <td class="muted">{String(f.description ?? "")}</td>
              </tr>
            ))}
          </table>
        )}
    </Page>
  );
}

/** `/ui/flows/:name`: versions, and the chosen version's DAG, steps and parameter schema. */
export function FlowPage(
  props: { ui: Ui; name: string; versions: Doc[]; current: Doc; stats?: RunStats },
) {
  const { ui, current } = props;
  const steps = (current.steps as (DagStep & Doc)[] | null) ?? [];
  const base = `${ui.base}/flows/${encodeURIComponent(props.name)}`;
  return (
    <Page ui={ui} title={`Flow ${props.name}`} active="/flows">
      <h1>
        {props.name} <span class="muted">v{String(current.version)}</span>{" "}
        {current.archived ? <Badge state="ARCHIVED" /> : null}
      </h1>
      <p>
        <a href={withQuery(`${ui.base}/runs`, { flow: props.name })}>Runs of this flow</a>
        {ui.can("trigger") && !current.archived && (
          <>
            <Sep />
            <a class="button" href={`${base}/trigger`}>Run now…</a>
          </>
        )}
      </p>
      {props.stats && (
        <>
          <ChartStyle />
          <StatsStrip stats={props.stats} id="flow-stats" />
        </>
      )}
      <DagSvg steps={steps.map((s) => ({ ...s, depends_on: s.depends_on ?? [] }))} />
      <h2>Steps</h2>
      <table>
        <tr>
          <th>Step</th>
          <th>Handler</th>
          <th>Depends on</th>
          <th>Map</th>
          <th>Attempts</th>
          <th>Timeout</th>
        </tr>
        {steps.map((s) => (
          <tr>
            <td>
              <b>{s.slug}</b>
            </td>
            <td>
              <code>{String(s.handler ?? s.slug)}</code>
            </td>
            <td>{(s.depends_on ?? []).join(", ") || <span class="muted">—</span>}</td>
            <td>{s.map ?? <span class="muted">—</span>}</td>
            <td class="num">{String(s.max_attempts ?? "")}</td>
            <td class="num">{s.timeout ? `${s.timeout} s` : ""}</td>
          </tr>
        ))}
      </table>
      <h2>Parameters</h2>
      <div class="card">
        <Json value={current.parameters} />
      </div>
      <h2>Versions</h2>
      <table>
        <tr>
          <th>Version</th>
          <th>Hash</th>
          <th>State</th>
          <th>Registered</th>
        </tr>
        {props.versions.map((v) => (
          <tr>
            <td>
              <a href={`${base}?version=${v.version}`}>v{String(v.version)}</a>
            </td>
            <td>
              <code>{String(v.hash ?? "").slice(0, 12)}</code>
            </td>
            <td>{v.archived ? <Badge state="ARCHIVED" /> : <Badge state="ACTIVE" />}</td>
            <td>
              <Time at={v.created_at as string} />
            </td>
          </tr>
        ))}
      </table>
    </Page>
  );
}

/** A schedule in words: `cron 30 15 * * 1-5 (Asia/Kolkata)`, `every 3600 s`, `rrule FREQ=DAILY`. */
export function describeSchedule(s: Doc): string {
  const tz = s.timezone ? ` (${s.timezone})` : "";
  if (s.cron) return `cron ${s.cron}${tz}`;
  if (s.interval !== undefined) return `every ${s.interval} s${tz}`;
  if (s.rrule) return `rrule ${String(s.rrule).replace(/^DTSTART[^\n]*\n?/, "")}${tz}`;
  return JSON.stringify(s);
}

/** `/ui/deployments`: each deployment, its schedules and what it can do. */
export function DeploymentsPage(
  props: { ui: Ui; deployments: Doc[]; stats?: Record<string, RunStats> },
) {
  const { ui } = props;
  return (
    <Page ui={ui} title="Deployments" active="/deployments">
      <h1>Deployments</h1>
      {props.stats && <ChartStyle />}
      {props.deployments.length === 0 && <p class="muted">No deployments yet (POST /deploy).</p>}
      {props.deployments.map((d) => {
        const name = String(d.name);
        const path = `${ui.base}/deployments/${encodeURIComponent(name)}`;
        const schedules = (d.schedules as Doc[] | null) ?? [];
        return (
          <div class="card" id={`deployment-${name}`} data-deployment={name}>
            <h2 style="margin-top:0">
              {name} <Badge state={d.paused ? "PAUSED" : "ACTIVE"} id={`state-${name}`} />
            </h2>
            <p class="small">
              flow{" "}
              <a href={`${ui.base}/flows/${encodeURIComponent(String(d.flow))}`}>
                {String(d.flow)}
              </a>{" "}
              ({d.version === "latest" ? "latest" : `v${d.version}`})
              <Sep />
              pool {String(d.pool)}/{String(d.queue)}
              {d.concurrency_limit != null && (
                <>
                  <Sep />
                  limit {String(d.concurrency_limit)}
                </>
              )}
              <Sep />
              <a href={withQuery(`${ui.base}/runs`, { deployment: name })}>runs</a>
            </p>
            <p class="small">
              parameters <code>{JSON.stringify(d.parameters ?? {})}</code>
            </p>
            {props.stats?.[name] && <StatsStrip stats={props.stats[name]} id={`stats-${name}`} />}
            {schedules.length === 0
              ? <p class="muted small">No schedules.</p>
              : (
                <table class="small">
                  <tr>
                    <th>Schedule</th>
                    <th>State</th>
                    <th>Next fire time</th>
                  </tr>
                  {schedules.map((s) => (
                    <tr data-schedule={String(s.id)}>
                      <td>
                        <code>{describeSchedule(s)}</code>
                      </td>
                      <td>
                        <Badge
                          state={d.paused ? "PAUSED" : s.active === false ? "INACTIVE" : "ACTIVE"}
                        />
                      </td>
                      <td>
                        {d.paused ? <span class="muted">paused</span> : (
                          <Time
                            at={s.next_fire_at as string | null}
                            zone={s.timezone as string | null}
                          />
                        )}
                      </td>
                    </tr>
                  ))}
                </table>
              )}
            <p>
              {ui.can("deploy") && (
                <form
                  class="inline"
                  method="post"
                  action={`${path}/${d.paused ? "resume" : "pause"}`}
                >
                  <button type="submit" data-action={d.paused ? "resume" : "pause"}>
                    {d.paused ? "Resume" : "Pause"}
                  </button>
                </form>
              )}{" "}
              {ui.can("trigger") && !d.paused && (
                <a class="button" href={`${path}/trigger`}>Run now…</a>
              )}
            </p>
          </div>
        );
      })}
    </Page>
  );
}
