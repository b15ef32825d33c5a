/**
 * Prometheus text exposition (format 0.0.4) of edgeflow's metrics: what the
 * database reports (edgeflow.metrics(): runs by state, queues, workers,
 * counters) and the app's latency histograms.
 */
import type { AppMetrics, Histogram } from "./histogram.ts";

/** What `edgeflow.metrics()` returns. */
export interface DatabaseMetrics {
  runs: { status: string; count: number }[];
  queues: {
    pool: string;
    handler: string;
    queued: number;
    ready: number;
    oldest_seconds: number;
    /** An online worker of the pool serves the handler. */
    served: boolean;
  }[];
  workers: { pool: string; online: number }[];
  counters: Record<string, number>;
  late?: { deployment: string | null; count: number }[];
}

/** Every run state, so a state with no run reads 0 rather than vanishing. */
const RUN_STATES = [
  "SCHEDULED",
  "PENDING",
  "RUNNING",
  "CANCELLING",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "CRASHED",
];

/** A label value escaped as the format asks (backslash, quote, newline). */
export function labelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${labelValue(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

class Writer {
  lines: string[] = [];
  family(name: string, type: "gauge" | "counter" | "histogram", help: string) {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }
  sample(name: string, l: Record<string, string>, value: number) {
    this.lines.push(`${name}${labels(l)} ${Number.isFinite(value) ? value : 0}`);
  }
  histogram(name: string, h: Histogram) {
    for (const [le, n] of h.cumulative()) this.sample(`${name}_bucket`, { le }, n);
    this.sample(`${name}_sum`, {}, h.sum);
    this.sample(`${name}_count`, {}, h.count);
  }
}

/** The whole `/metrics` document. */
export function renderMetrics(db: DatabaseMetrics, app: AppMetrics): string {
  const w = new Writer();
  w.family("edgeflow_runs", "gauge", "Retained runs by state.");
  const byState = new Map(db.runs.map((r) => [r.status, r.count]));
  for (const s of RUN_STATES) w.sample("edgeflow_runs", { state: s }, byState.get(s) ?? 0);

  w.family(
    "edgeflow_queue_depth",
    "gauge",
    "Queued tasks per pool and handler (retry waits included).",
  );
  for (const q of db.queues) {
    w.sample("edgeflow_queue_depth", { pool: q.pool, handler: q.handler }, q.queued);
  }
  w.family(
    "edgeflow_queue_ready",
    "gauge",
    "Queued tasks whose retry wait is over, per pool and handler.",
  );
  for (const q of db.queues) {
    w.sample("edgeflow_queue_ready", { pool: q.pool, handler: q.handler }, q.ready);
  }
  w.family(
    "edgeflow_queue_oldest_age_seconds",
    "gauge",
    "Age of the oldest ready queued task per pool and handler.",
  );
  for (const q of db.queues) {
    w.sample(
      "edgeflow_queue_oldest_age_seconds",
      { pool: q.pool, handler: q.handler },
      q.oldest_seconds,
    );
  }
  w.family(
    "edgeflow_queue_unserved",
    "gauge",
    "1 where tasks are queued for a handler that no online worker of the pool serves.",
  );
  for (const q of db.queues) {
    w.sample("edgeflow_queue_unserved", { pool: q.pool, handler: q.handler }, q.served ? 0 : 1);
  }
  w.family(
    "edgeflow_workers_online",
    "gauge",
    "Workers that heartbeat within 3 intervals, per pool.",
  );
  for (const p of db.workers) w.sample("edgeflow_workers_online", { pool: p.pool }, p.online);

  w.family(
    "edgeflow_runs_late",
    "gauge",
    'Runs not started EDGEFLOW_LATE_SECONDS after their scheduled time, per deployment ("": ad hoc).',
  );
  for (const l of db.late ?? []) {
    w.sample("edgeflow_runs_late", { deployment: l.deployment ?? "" }, l.count);
  }

  w.family("edgeflow_lease_expiries_total", "counter", "Task leases that expired (sweep).");
  w.sample("edgeflow_lease_expiries_total", {}, db.counters.lease_expiries ?? 0);

  w.family(
    "edgeflow_trigger_duration_seconds",
    "histogram",
    "Time to answer a trigger that started a run (this process).",
  );
  w.histogram("edgeflow_trigger_duration_seconds", app.trigger);
  w.family(
    "edgeflow_claim_duration_seconds",
    "histogram",
    "Time of a claim of tasks by a heartbeat (this process; long-poll waits excluded).",
  );
  w.histogram("edgeflow_claim_duration_seconds", app.claim);
  w.family(
    "edgeflow_result_requests_total",
    "counter",
    "Result requests (POST /heartbeat/tasks/complete, …/fail) sent to the database (this process).",
  );
  w.sample("edgeflow_result_requests_total", {}, app.results.requests);
  w.family(
    "edgeflow_result_calls_total",
    "counter",
    "Engine calls that carried them: fewer than the requests when requests arrived together.",
  );
  w.sample("edgeflow_result_calls_total", {}, app.results.calls);
  return w.lines.join("\n") + "\n";
}
