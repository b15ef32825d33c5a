/**
 * The run page's logs: one block per step with the lines its tasks shipped
 * (`ctx.log`), rendered on the server, then followed live by a small script
 * on the logs stream (`GET /trigger/runs/:id/logs`, SSE) that appends each
 * new line to its step's block. The section sits outside the page's live
 * part, so the re-renders that follow run events leave the lines alone.
 */
import type { LogEntry, LogPage } from "../engine/logs.ts";
import type { Ui } from "./layout.tsx";

/** Lines rendered with the page; later ones come through the stream. */
export const PAGE_LINES = 1000;

/** The script that follows the stream (inlined with the page's CSP nonce). */
export const RUN_LOGS_JS = `
(() => {
  const root = document.getElementById("logs");
  if (!root || !window.EventSource) return;
  const blockOf = (step) => {
    let pre = root.querySelector('pre[data-logs-step="' + CSS.escape(step) + '"]');
    if (pre) return pre;
    const box = document.createElement("details");
    box.open = true;
    box.className = "step-logs";
    box.dataset.step = step;
    const sum = document.createElement("summary");
    sum.textContent = step;
    pre = document.createElement("pre");
    pre.className = "logs";
    pre.dataset.logsStep = step;
    box.append(sum, pre);
    root.querySelector(".logs-steps").append(box);
    const none = document.getElementById("no-logs");
    if (none) none.remove();
    return pre;
  };
  const es = new EventSource(root.dataset.stream + "?after=" + root.dataset.lastId);
  es.onmessage = (m) => {
    const l = JSON.parse(m.data);
    const line = document.createElement("span");
    line.className = "log-line lv-" + l.level;
    line.dataset.id = l.id;
    const f = l.fields && Object.keys(l.fields).length ? " " + JSON.stringify(l.fields) : "";
    line.textContent = l.at.slice(11, 23) + " " + l.level.toUpperCase().padEnd(5) + " #" + l.attempt + " " + l.message + f + "\\n";
    blockOf(l.step).append(line);
  };
  es.addEventListener("dropped", (m) => {
    const note = document.getElementById("logs-dropped");
    if (note) note.textContent = JSON.parse(m.data).map((d) => d.step + ": " + d.dropped + " line(s) dropped").join(" · ");
  });
  es.addEventListener("end", () => es.close());
})();
`;

/** Styles of the logs and the timeline (the dashboard CSP allows inline styles). */
export const RUN_EXTRAS_CSS = `
.run-pictures { display:flex; flex-wrap:wrap; gap:14px; align-items:flex-start; }
.run-pictures > * { flex:1 1 0; min-width:320px; }
svg.timeline { background:#fff; border:1px solid #e4e7ec; border-radius:8px; max-width:100%; height:auto; }
.legend .sw { display:inline-block; width:10px; height:10px; border-radius:2px; margin:0 3px 0 8px; vertical-align:-1px; }
details.step-logs { margin-bottom:8px; } details.step-logs summary { cursor:pointer; font-weight:600; }
pre.logs { background:#101828; color:#e4e7ec; padding:8px 10px; border-radius:6px; max-height:320px; overflow:auto; font-size:12px; margin:4px 0 0; white-space:pre-wrap; }
pre.logs .lv-warn { color:#fec84b; } pre.logs .lv-error { color:#fda29b; } pre.logs .lv-debug { color:#98a2b3; }
`;

function text(l: LogEntry): string {
  const fields = l.fields && Object.keys(l.fields).length ? ` ${JSON.stringify(l.fields)}` : "";
  return `${l.at.slice(11, 23)} ${
    l.level.toUpperCase().padEnd(5)
  } #${l.attempt} ${l.message}${fields}\n`;
}

/** The logs section of a run page: `steps` in flow order, `page` its first lines. */
export function RunLogs(props: { ui: Ui; runId: string; steps: string[]; page: LogPage }) {
  const { page } = props;
  const byStep = new Map<string, LogEntry[]>();
  for (const l of page.logs) byStep.set(l.step, [...(byStep.get(l.step) ?? []), l]);
  const steps = [
    ...props.steps.filter((s) => byStep.has(s)),
    ...[...byStep.keys()].filter((s) => !props.steps.includes(s)),
  ];
  return (
    <section
      id="logs"
      data-stream={`/trigger/runs/${props.runId}/logs`}
      data-last-id={String(page.last_id)}
    >
      <h2>Logs</h2>
      <p class="small muted" id="logs-dropped">
        {page.dropped.map((d) => `${d.step}: ${d.dropped} line(s) dropped`).join(" · ")}
      </p>
      {page.logs.length >= PAGE_LINES && (
        <p class="small muted">
          The first {PAGE_LINES} lines; all of them: <code>edgeflow runs logs {props.runId}</code>
        </p>
      )}
      <div class="logs-steps">
        {steps.length === 0 && (
          <p class="muted" id="no-logs">No log lines yet (handlers log with ctx.log).</p>
        )}
        {steps.map((step) => (
          <details class="step-logs" data-step={step} open>
            <summary>{step}</summary>
            <pre class="logs" data-logs-step={step}>{(byStep.get(step) ?? []).map((l) => (
              <span class={`log-line lv-${l.level}`} data-id={String(l.id)}>{text(l)}</span>
            ))}</pre>
          </details>
        ))}
      </div>
    </section>
  );
}
