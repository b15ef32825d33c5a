/**
 * A run's timeline: every task attempt on one time axis, as server-rendered
 * SVG (a Gantt chart). One row per task (a map step has one per element,
 * labelled `slug[i]`), each a sequence of segments read off the task's
 * events: queued (from the task's creation or its step's QUEUED event),
 * running (coloured by how the attempt ended), and retry wait (a failed or
 * expired attempt until the next one starts). Attempts of an earlier retry
 * of the run stay on their row. Rows past `MAX_ROWS` are summed up in a note:
 * a map step of 10,000 tasks is a table's job, not a chart's.
 */
import { STATE_COLORS } from "./style.ts";
import type { RunEvent } from "../app/events_routes.ts";

/** A task or step event as the timeline reads it: the part of a RunEvent it needs. */
export type TimelineEvent = Pick<
  RunEvent,
  "kind" | "step" | "task" | "attempt" | "from" | "to" | "at"
>;

/** A task row's identity (tasks replaced by a retry from a step are gone: their events remain). */
export interface TimelineTask {
  id: string;
  slug: string;
  index: number;
  map: boolean;
  created_at: string;
}

/** One stretch of a task's life. */
export interface Segment {
  kind: "queued" | "running" | "retry";
  from: number;
  to: number;
  attempt: number | null;
  /** How a running segment ended (COMPLETED, FAILED, …); null while it runs or for waits. */
  outcome: string | null;
  /** Still going at `now`. */
  open: boolean;
}

/** One row of the chart. */
export interface TimelineRow {
  task: string;
  step: string;
  label: string;
  segments: Segment[];
}

/** Most rows drawn. */
export const MAX_ROWS = 60;

/** The rows of a run's timeline, in step order then task order; `now` closes open segments. */
export function timelineRows(
  stepOrder: string[],
  tasks: TimelineTask[],
  events: TimelineEvent[],
  now: number,
): TimelineRow[] {
  const known = new Map(tasks.map((t) => [t.id, t]));
  const stepQueued = new Map<string, number[]>();
  const byTask = new Map<string, TimelineEvent[]>();
  for (const e of events) {
    if (e.kind === "step" && e.to === "QUEUED" && e.step) {
      stepQueued.set(e.step, [...(stepQueued.get(e.step) ?? []), Date.parse(e.at)]);
    } else if (e.kind === "task" && e.task) {
      byTask.set(e.task, [...(byTask.get(e.task) ?? []), e]);
    }
  }
  const ids = new Set([...known.keys(), ...byTask.keys()]);
  const rows: (TimelineRow & { order: number[] })[] = [];
  for (const id of ids) {
    const task = known.get(id);
    const evs = byTask.get(id) ?? [];
    const step = task?.slug ?? evs[0]?.step ?? "?";
    const firstAt = evs.length ? Date.parse(evs[0].at) : now;
    // Queued since the task's creation, or (a replaced task) its step's QUEUED event before it.
    const queuedAt = task
      ? Date.parse(task.created_at)
      : Math.max(...(stepQueued.get(step) ?? [firstAt]).filter((t) => t <= firstAt), -Infinity);
    rows.push({
      task: id,
      step,
      label: task?.map ? `${step}[${task.index}]` : task ? step : `${step} (replaced)`,
      segments: segmentsOf(Number.isFinite(queuedAt) ? queuedAt : firstAt, evs, now),
      order: [Math.max(0, stepOrder.indexOf(step)), task ? 0 : -1, task?.index ?? 0, firstAt],
    });
  }
  rows.sort((a, b) => {
    for (let i = 0; i < a.order.length; i++) {
      if (a.order[i] !== b.order[i]) return a.order[i] - b.order[i];
    }
    return 0;
  });
  return rows.map(({ order: _, ...row }) => row);
}

function segmentsOf(queuedAt: number, events: TimelineEvent[], now: number): Segment[] {
  const out: Segment[] = [];
  let cur: Segment | null = {
    kind: "queued",
    from: queuedAt,
    to: queuedAt,
    attempt: null,
    outcome: null,
    open: true,
  };
  for (const e of events) {
    const at = Date.parse(e.at);
    if (cur) {
      cur.to = Math.max(cur.from, at);
      cur.open = false;
      if (cur.kind === "running") cur.outcome = e.to === "QUEUED" ? "FAILED" : e.to;
      out.push(cur);
    }
    cur = null;
    if (e.to === "RUNNING") {
      cur = { kind: "running", from: at, to: at, attempt: e.attempt, outcome: null, open: true };
    } else if (e.to === "QUEUED") {
      const kind = e.from === "RUNNING" ? "retry" : "queued";
      cur = { kind, from: at, to: at, attempt: e.attempt, outcome: null, open: true };
    }
  }
  if (cur) {
    cur.to = Math.max(cur.from, now);
    out.push(cur);
  }
  return out;
}

const LABEL_W = 120;
const CHART_W = 620;
const ROW_H = 20;
const AXIS_H = 26;
const BAR_H = 12;

const COLORS = {
  queued: STATE_COLORS.QUEUED.bg,
  retry: "#fec84b",
  running: STATE_COLORS.RUNNING.bg,
} as const;

/** "+1.5 s", "+2 min" */
function offset(ms: number): string {
  if (ms < 1000) return `+${Math.round(ms)} ms`;
  if (ms < 60_000) return `+${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  if (ms < 3_600_000) return `+${(ms / 60_000).toFixed(1)} min`;
  return `+${(ms / 3_600_000).toFixed(1)} h`;
}

function tip(row: TimelineRow, s: Segment): string {
  const what = s.kind === "retry" ? "waiting to retry" : s.kind;
  const attempt = s.attempt ? ` attempt ${s.attempt}` : "";
  const end = s.outcome ? ` → ${s.outcome}` : s.open ? " (now)" : "";
  return `${row.label}${attempt}: ${what} ${offset(s.to - s.from).slice(1)}${end}`;
}

/** The chart, with its legend; `hidden` rows beyond MAX_ROWS are counted under it. */
export function TimelineSvg(props: { rows: TimelineRow[] }) {
  const shown = props.rows.slice(0, MAX_ROWS);
  const all = shown.flatMap((r) => r.segments);
  if (!all.length) return <p class="muted" id="timeline-empty">No task has been queued yet.</p>;
  const t0 = Math.min(...all.map((s) => s.from));
  const t1 = Math.max(t0 + 1, ...all.map((s) => s.to));
  const x = (t: number) => LABEL_W + ((t - t0) / (t1 - t0)) * CHART_W;
  const height = AXIS_H + shown.length * ROW_H + 8;
  const width = LABEL_W + CHART_W + 32;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => t0 + f * (t1 - t0));
  return (
    <div class="timeline-wrap">
      <svg
        class="timeline"
        id="timeline"
        xmlns="http://www.w3.org/2000/svg"
        viewBox={`0 0 ${width} ${height}`}
        width={width}
        height={height}
        role="img"
        aria-label="task attempts over time"
      >
        {ticks.map((t) => (
          <g class="tick">
            <line x1={x(t)} x2={x(t)} y1={AXIS_H - 6} y2={height - 4} stroke="#e4e7ec" />
            <text x={x(t)} y={AXIS_H - 10} text-anchor="middle" font-size="11" fill="#667085">
              {offset(t - t0)}
            </text>
          </g>
        ))}
        {shown.map((row, i) => {
          const y = AXIS_H + i * ROW_H;
          return (
            <g class="row" data-task={row.task} data-step={row.step}>
              <text x={LABEL_W - 8} y={y + 14} text-anchor="end" font-size="12" fill="#1d2330">
                {row.label.length > 22 ? `${row.label.slice(0, 21)}…` : row.label}
              </text>
              {row.segments.map((s) => {
                const fill = s.kind === "running" && s.outcome
                  ? (STATE_COLORS[s.outcome]?.bg ?? COLORS.running)
                  : COLORS[s.kind];
                return (
                  <rect
                    class={`seg seg-${s.kind}`}
                    data-kind={s.kind}
                    data-attempt={s.attempt === null ? undefined : String(s.attempt)}
                    data-outcome={s.outcome ?? undefined}
                    x={x(s.from).toFixed(1)}
                    y={y + (ROW_H - BAR_H) / 2}
                    width={Math.max(2, x(s.to) - x(s.from)).toFixed(1)}
                    height={BAR_H}
                    rx="2"
                    fill={fill}
                  >
                    <title>{tip(row, s)}</title>
                  </rect>
                );
              })}
            </g>
          );
        })}
      </svg>
      <p class="legend small muted">
        <span class="sw" style={`background:${COLORS.queued}`} /> queued{" "}
        <span class="sw" style={`background:${COLORS.running}`} /> running{" "}
        <span class="sw" style={`background:${STATE_COLORS.COMPLETED.bg}`} /> completed{" "}
        <span class="sw" style={`background:${STATE_COLORS.FAILED.bg}`} /> failed{" "}
        <span class="sw" style={`background:${COLORS.retry}`} /> retry wait
        {props.rows.length > MAX_ROWS && (
          <span id="timeline-more">· {props.rows.length - MAX_ROWS} more tasks not drawn</span>
        )}
      </p>
    </div>
  );
}
