// deno-lint-ignore-file no-explicit-any
/**
 * Scheduler tests drive the real app with a clock they move: `clock.set()`
 * then `POST /trigger/tick`. Runs are read straight from the database.
 */
import { createApp } from "../../shared/app/app.ts";
import type { AppConfig } from "../../shared/app/deps.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import type { Sql } from "../../shared/db/sql.ts";
import type { TestDatabase } from "../support/db.ts";
import { ADMIN_KEY } from "../support/app.ts";

/** A clock the test moves by hand. */
export class Clock {
  constructor(public ms: number) {}
  static at(iso: string): Clock {
    return new Clock(Date.parse(iso));
  }
  now = (): Date => new Date(this.ms);
  set(iso: string): void {
    this.ms = Date.parse(iso);
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export type Call = (
  method: string,
  path: string,
  body?: unknown,
  opts?: { key?: string | null; headers?: Record<string, string> },
) => Promise<{ status: number; body: any; headers: Headers }>;

/** The app over `sql` with `clock` as its `now`. */
export function clockApp(sql: Sql, clock: Clock, config: Partial<AppConfig> = {}) {
  const app = createApp({
    sql: () => sql,
    config: { adminKey: ADMIN_KEY, heartbeatSeconds: 10, leaseSeconds: 30, ...config },
    log: silentLogger,
    now: clock.now,
  });
  const call: Call = async (method, path, body, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? ADMIN_KEY : opts.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers["content-type"] ??= "application/json";
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const res = await app.request(path, { method, headers, body: payload });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch { /* not JSON */ }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  return { app, call };
}

/** A one-step flow `name` with an optional parameter schema. */
export async function registerFlow(call: Call, name = "job", parameters?: unknown) {
  const res = await call("POST", "/register", {
    name,
    steps: [{ slug: "work", handler: `${name}.work` }],
    ...(parameters ? { parameters } : {}),
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(JSON.stringify(res.body));
  return res.body;
}

/** Deploy and insist on success; returns the deployment document. */
export async function deploy(call: Call, body: Record<string, unknown>) {
  const res = await call("POST", "/deploy", { flow: "job", ...body });
  if (res.status !== 201 && res.status !== 200) {
    throw new Error(`deploy ${res.status}: ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** Tick and insist on success. */
export async function tick(call: Call) {
  const res = await call("POST", "/trigger/tick");
  if (res.status !== 200) throw new Error(`tick ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

export interface ScheduledRun {
  id: string;
  scheduled_time: string;
  status: string;
  parameters: Record<string, unknown>;
  pool: string;
  queue: string;
  tags: string[];
}

/** Runs created for schedule `id`, by fire time. */
export async function runsOf(sql: Sql, scheduleId: string): Promise<ScheduledRun[]> {
  return await sql<ScheduledRun>`
    select id, edgeflow.iso(scheduled_time) as scheduled_time, status, parameters, pool, queue, tags
      from edgeflow.runs where idempotency_scope = ${"schedule:" + scheduleId}
     order by scheduled_time`;
}

/** Fire times of schedule `id`'s runs, as ISO strings. */
export async function fireTimesOf(sql: Sql, scheduleId: string): Promise<string[]> {
  return (await runsOf(sql, scheduleId)).map((r) => r.scheduled_time);
}

/** The one schedule of a deployment document. */
export function onlySchedule(deployment: any): any {
  if (deployment.schedules.length !== 1) {
    throw new Error(`expected one schedule: ${JSON.stringify(deployment.schedules)}`);
  }
  return deployment.schedules[0];
}

export type { TestDatabase };
