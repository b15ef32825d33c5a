/** How a run looks to people: a status line and its steps as a table (`runs show`, `run --watch`). */
import { cell, elapsed, renderTable } from "./table.ts";
import { retriesOf } from "../api/step_counts.ts";

/** A run as `GET /trigger/runs/:id` returns it (the fields the CLI reads). */
export interface RunDoc {
  id: string;
  status: string;
  flow: string;
  version: number;
  deployment: string | null;
  parameters?: unknown;
  output?: unknown;
  error?: unknown;
  created_at?: string | null;
  started_at?: string | null;
  ended_at?: string | null;
  steps?: StepDoc[];
}

/** One step of a run document. */
export interface StepDoc {
  slug: string;
  status: string;
  attempts?: number;
  tasks?: number;
  error?: unknown;
  started_at?: string | null;
  ended_at?: string | null;
  /** Why its queued work is held back (server 0071); absent from older servers. */
  waiting_for?: { reason: string; message: string } | null;
}

/** Run states after which nothing changes any more. */
export const FINAL_STATES = new Set(["COMPLETED", "FAILED", "CRASHED", "CANCELLED"]);

/** Exit code for a finished run: 0 only when it completed. */
export function exitCodeOf(run: RunDoc): number {
  return run.status === "COMPLETED" ? 0 : 1;
}

/** The message of an error value (`{message}` from workers, strings from the engine). */
export function errorText(error: unknown): string {
  if (error === null || error === undefined) return "";
  if (typeof error === "string") return error;
  const message = (error as { message?: unknown }).message;
  return typeof message === "string" ? message : JSON.stringify(error);
}

/** The status line and step table of a run at time `now`. */
export function renderRun(run: RunDoc, now: number): string {
  const where = run.deployment ? `deployment ${run.deployment}` : "ad hoc";
  const head = `run ${run.id}  ${run.flow} v${run.version}  ${where}  ` +
    `${run.status}  ${elapsed(run.started_at ?? run.created_at, run.ended_at, now)}`;
  const steps = run.steps ?? [];
  const table = steps.length
    ? renderTable([
      { header: "step", value: (s: StepDoc) => s.slug },
      { header: "status", value: (s) => s.status },
      { header: "tasks", value: (s) => s.tasks ?? 0 },
      { header: "retries", value: (s) => retriesOf(s) },
      { header: "time", value: (s) => elapsed(s.started_at, s.ended_at, now) },
      { header: "error", value: (s) => truncate(errorText(s.error), 60) },
    ], steps)
    : "(no steps yet)\n";
  const error = run.error ? `error: ${errorText(run.error)}\n` : "";
  return `${head}\n${table}${waitingLines(steps)}${error}`;
}

/** What changes between frames, leaving out the ticking clock (non-terminal output). */
export function runSignature(run: RunDoc): string {
  return JSON.stringify([
    run.status,
    (run.steps ?? []).map((s) => [s.slug, s.status, s.attempts, s.tasks, s.waiting_for?.message]),
  ]);
}

/** One line per step whose work is held back: "step extract waits: no worker online for …". */
export function waitingLines(steps: StepDoc[]): string {
  return steps
    .filter((s) => s.waiting_for)
    .map((s) => `step ${s.slug} waits: ${cell(s.waiting_for!.message)}\n`)
    .join("");
}

function truncate(text: string, max: number): string {
  const flat = cell(text);
  return flat.length > max ? flat.slice(0, max - 1) + "…" : flat;
}
