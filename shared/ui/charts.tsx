// deno-lint-ignore-file jsx-key
// (Rendered once on the server: no reconciliation for keys to help.)
/**
 * Charts of the dashboard as server-rendered SVG (no script, no library):
 * the runs list's activity chart (runs per hour of the last 24 hours,
 * stacked by state) and the last-N strip of a flow or deployment (success
 * rate, duration p50/p95, one bar per run, its height the duration).
 */
import { raw } from "hono/html";
import { STATE_COLORS } from "./style.ts";
import type { ActivityHour, RunStats } from "./run_stats.ts";

/** Stacking order, bottom first: what ended well, then what did not, then what runs. */
const STACK = [
  "COMPLETED",
  "FAILED",
  "CRASHED",
  "CANCELLED",
  "CANCELLING",
  "RUNNING",
  "PENDING",
  "SCHEDULED",
];

const color = (state: string) => STATE_COLORS[state]?.bg ?? "#98a2b3";

/** `12 s`, `3.4 min`, `1.2 h`. */
export function fmtSeconds(s: number | null): string {
  if (s === null) return "—";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function ActivityChart(props: { hours: ActivityHour[] }) {
  const W = 720, H = 140, left = 34, bottom = 20, top = 8;
  const totals = props.hours.map((h) => Object.values(h.counts).reduce((a, b) => a + b, 0));
  const max = Math.max(1, ...totals);
  const step = (W - left - 8) / props.hours.length;
  const y = (n: number) => (n / max) * (H - top - bottom);
  const present = STACK.filter((s) => props.hours.some((h) => h.counts[s]));
  const total = totals.reduce((a, b) => a + b, 0);
  return (
    <figure class="chart" id="activity-chart">
      <svg
        class="activity"
        viewBox={`0 0 ${W} ${H}`}
        width={W}
        height={H}
        role="img"
        aria-label={`Runs per hour over the last 24 hours: ${total} runs`}
      >
        <line x1={left} y1={H - bottom} x2={W - 8} y2={H - bottom} stroke="#d0d5dd" />
        <text x={left - 6} y={top + 8} text-anchor="end" font-size="10" fill="#667085">{max}</text>
        <text x={left - 6} y={H - bottom} text-anchor="end" font-size="10" fill="#667085">0</text>
        {props.hours.map((h, i) => {
          let base = H - bottom;
          const x = left + i * step + 1;
          const bars = STACK.filter((s) => h.counts[s]).map((s) => {
            const hgt = y(h.counts[s]);
            base -= hgt;
            return (
              <rect x={x} y={base} width={step - 2} height={hgt} fill={color(s)} data-state={s}>
                <title>{`${h.hour.slice(11, 16)} UTC: ${h.counts[s]} ${s.toLowerCase()}`}</title>
              </rect>
            );
          });
          const label = i % 4 === 0 || i === props.hours.length - 1
            ? (
              <text x={x + step / 2} y={H - 6} text-anchor="middle" font-size="10" fill="#667085">
                {h.hour.slice(11, 16)}
              </text>
            )
            : null;
          return <g data-hour={h.hour} data-total={totals[i]}>{bars}{label}</g>;
        })}
      </svg>
      <figcaption class="small muted">
        Runs per hour, last 24 hours (UTC), by state now{total === 0 ? ": none yet" : ""}
        {present.map((s) => (
          <span class="legend">
            <span class="swatch" style={`background:${color(s)}`}></span>
            {s.toLowerCase()}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

export function StatsStrip(props: { stats: RunStats; id: string }) {
  const { stats } = props;
  const W = 240, H = 36;
  const max = Math.max(0.001, ...stats.recent.map((r) => r.seconds ?? 0));
  const w = stats.recent.length ? W / Math.max(stats.recent.length, 20) : W;
  const rate = stats.success_rate === null ? "—" : `${Math.round(stats.success_rate * 100)} %`;
  return (
    <div class="stats" id={props.id} data-runs={stats.runs} data-success={stats.success_rate ?? ""}>
      <span>
        <b>{rate}</b> <span class="muted small">success</span>
      </span>
      <span>
        <b>{fmtSeconds(stats.p50)}</b> <span class="muted small">p50</span>
      </span>
      <span>
        <b>{fmtSeconds(stats.p95)}</b> <span class="muted small">p95</span>
      </span>
      <svg
        class="strip"
        viewBox={`0 0 ${W} ${H}`}
        width={W}
        height={H}
        role="img"
        aria-label={`Last ${stats.runs} finished runs: ${rate} succeeded`}
      >
        {stats.recent.map((r, i) => {
          const h = Math.max(3, ((r.seconds ?? 0) / max) * (H - 2));
          return (
            <rect
              x={i * w + 0.5}
              y={H - h}
              width={Math.max(1, w - 1)}
              height={h}
              fill={color(r.status)}
            >
              <title>{`${r.status.toLowerCase()} in ${fmtSeconds(r.seconds)}`}</title>
            </rect>
          );
        })}
      </svg>
      <span class="muted small">last {stats.runs} finished runs</span>
    </div>
  );
}

/** CSS for the charts (appended to the dashboard's). */
export const CHART_CSS = `
figure.chart { margin:0 0 14px; background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px; }
figure.chart svg { width:100%; height:auto; display:block; }
figure.chart rect[data-state="PENDING"], figure.chart rect[data-state="SCHEDULED"] { stroke:#98a2b3; stroke-width:.5; }
.legend { margin-left:12px; white-space:nowrap; } .swatch { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; vertical-align:-1px; }
.stats { display:flex; gap:18px; align-items:center; flex-wrap:wrap; margin:8px 0; }
.stats svg.strip { background:#fcfcfd; border:1px solid var(--line); border-radius:4px; }`;

/** The charts' CSS, once per page that shows one. */
export function ChartStyle() {
  return <style>{raw(CHART_CSS)}</style>;
}
