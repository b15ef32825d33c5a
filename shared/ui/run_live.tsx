/**
 * The live part of a run page (status, DAG, steps, output, events), served
 * alone at `…/runs/:id/live`, and the page's only script, which follows the
 * run's event stream and swaps that part in.
 *
 * A step event recolours its DAG node at once; then the server re-renders the
 * live part of the page (`…/live`), debounced, so attempts, errors and outputs
 * appear without the client knowing how to draw them. A re-render older than
 * the newest event already shown (it was rendered while that event
 * committed) is dropped and fetched again, so the page never steps back.
 * EventSource reconnects by itself and resumes from the last event id; `end`
 * means the run is final.
 */
import { retriesOf } from "../api/step_counts.ts";
import { ErrorText } from "./layout.tsx";
import type { RunDocument } from "../engine/runs.ts";
import { FINAL_RUN_STATES, type RunEvent } from "../app/events_routes.ts";
import { DagSvg } from "./dag_svg.tsx";
import { Badge, duration, Json, Sep, Time, type Ui } from "./layout.tsx";
import { WaitingNotice } from "./waiting_notice.tsx";
import { LateBadge } from "./late_and_stuck.tsx";
import { type TimelineRow, TimelineSvg } from "./timeline_svg.tsx";
import { RetryForm } from "./retry_form.tsx";

/** The script (inlined with the response's CSP nonce). */
export const RUN_LIVE_JS = `
(() => {
  const live = document.getElementById("live");
  if (!live || live.dataset.final === "true" || !window.EventSource) return;
  let timer, busy = false, again = false, seen = Number(live.dataset.lastId) || 0;
  const refresh = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const res = await fetch(live.dataset.fragment, { credentials: "same-origin" });
      const html = res.ok ? await res.text() : "";
      const upto = Number((/data-upto="(\\d+)"/.exec(html) || [])[1] || 0);
      if (html && upto >= seen) live.innerHTML = html;
      else if (html) again = true;
    } catch (_) { /* the next event refreshes again */ }
    busy = false;
    if (again) { again = false; setTimeout(refresh, 50); }
  };
  const soon = () => { clearTimeout(timer); timer = setTimeout(refresh, 100); };
  const es = new EventSource(live.dataset.events + "?after=" + live.dataset.lastId);
  es.onmessage = (m) => {
    const e = JSON.parse(m.data);
    seen = Math.max(seen, e.id);
    if (e.kind === "step") {
      const node = live.querySelector('g[data-step="' + CSS.escape(e.step) + '"]');
      if (node) {
        node.setAttribute("class", "node s-" + e.to);
        const sub = node.querySelector(".sub");
        if (sub) sub.textContent = sub.textContent.replace(/^[A-Z]+/, e.to);
      }
    } else if (e.kind === "run") {
      const badge = document.getElementById("run-status");
      if (badge) { badge.textContent = e.to; badge.className = "badge s-" + e.to; }
    }
    soon();
  };
  es.addEventListener("end", () => { es.close(); live.dataset.final = "true"; soon(); });
})();
`;

/** The part of a run page that follows the run: status, DAG, steps, output, events. */
export function RunLive(
  props: { ui: Ui; run: RunDocument; events: RunEvent[]; timeline?: TimelineRow[] },
) {
  const { run } = props;
  const { ui } = props;
  const steps = run.steps as (RunDocument["steps"][number] & Record<string, unknown>)[];
  const upto = props.events.length ? props.events[props.events.length - 1].id : 0;
  return (
    <>
      <span id="live-upto" data-upto={String(upto)} hidden />
      <p>
        <Badge id="run-status" state={run.status} />
        <LateBadge late={run.late as boolean} at={run.late_at as string | null} />{" "}
        <span class="muted">created</span> <Time at={run.created_at} />
        <Sep />
        <span class="muted">took</span> {duration(run.started_at, run.ended_at, ui.now)}
        {!FINAL_RUN_STATES.has(run.status) && ui.can("trigger") && (
          <form class="inline gap" method="post" action={`${ui.base}/runs/${run.id}/cancel`}>
            <button class="danger" type="submit">Cancel run</button>
          </form>
        )}
      </p>
      <RetryForm ui={ui} run={run} />
      <WaitingNotice steps={run.steps} />
      <div class="run-pictures">
        <DagSvg
          steps={steps.map((s) => ({
            slug: s.slug,
            depends_on: (s.depends_on as string[]) ?? [],
            handler: s.handler as string,
            map: s.map as string | null,
            status: s.status,
            tasks: s.tasks,
          }))}
          href={(slug) => `#step-${slug}`}
        />
        {props.timeline && <TimelineSvg rows={props.timeline} />}
      </div>
      <h2>Steps</h2>
      <table id="steps">
        <tr>
          <th>Step</th>
          <th>Handler</th>
          <th>Status</th>
          <th>Tasks</th>
          <th>Retries</th>
          <th>Started</th>
          <th>Took</th>
          <th>Error</th>
          <th>Output</th>
        </tr>
        {steps.map((s) => (
          <tr id={`step-${s.slug}`} data-step-row={s.slug}>
            <td>
              <b>{s.slug}</b>
            </td>
            <td>
              <code>{String(s.handler ?? "")}</code>
            </td>
            <td>
              <Badge state={s.status} />
            </td>
            <td class="num">{s.tasks}</td>
            <td class="num">{retriesOf(s)}</td>
            <td>
              <Time at={s.started_at as string | null} />
            </td>
            <td>{duration(s.started_at as string | null, s.ended_at as string | null, ui.now)}</td>
            <td>
              <ErrorText value={s.error} />
            </td>
            <td>
              <Json value={s.output} max={1500} />
            </td>
          </tr>
        ))}
      </table>
      {run.error !== null && (
        <>
          <h2>Error</h2>
          <div class="card">
            <ErrorText value={run.error} />
          </div>
        </>
      )}
      {run.output !== null && (
        <>
          <h2>Output</h2>
          <div class="card">
            <Json value={run.output} />
          </div>
        </>
      )}
      <h2>Events</h2>
      <table id="events" class="small">
        <tr>
          <th>#</th>
          <th>At</th>
          <th>What</th>
          <th>Change</th>
          <th>Error</th>
        </tr>
        {[...props.events].reverse().map((e) => (
          <tr>
            <td class="num">{e.id}</td>
            <td>
              <Time at={e.at} />
            </td>
            <td>
              {e.kind}
              {e.step ? ` ${e.step}` : ""}
              {e.attempt ? ` (attempt ${e.attempt})` : ""}
            </td>
            <td>
              {e.from ?? "∅"} → <b>{e.to}</b>
            </td>
            <td>
              {e.error
                ? (
                  <code>
                    {String((e.error as { message?: unknown }).message ?? JSON.stringify(e.error))}
                  </code>
                )
                : null}
            </td>
          </tr>
        ))}
      </table>
    </>
  );
}
