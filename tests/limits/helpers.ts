/** Shared setup of the limit and reliability tests. */
import assert from "node:assert/strict";
import type { Sql } from "../../shared/db/sql.ts";
import type { TestApp } from "../support/app.ts";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Slots held now, as `limit_key` → holders. */
export async function slots(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql<{ limit_key: string; n: number }>`
    select limit_key, count(*)::int as n from edgeflow.slots group by limit_key order by 1`;
  return Object.fromEntries(
    rows.map((r) => [r.limit_key.replace(/:[0-9a-f-]{36}$/, ":<id>"), r.n]),
  );
}

/** Total slots held. */
export async function slotCount(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }>`select count(*)::int as n from edgeflow.slots`;
  return row.n;
}

/** Statuses of runs, in creation order. */
export async function runStatuses(sql: Sql, ids: string[]): Promise<string[]> {
  const rows = await sql<{ id: string; status: string }>`
    select id::text, status from edgeflow.runs
     where id in (select jsonb_array_elements_text(${JSON.stringify(ids)}::text::jsonb)::uuid)`;
  const by = new Map(rows.map((r) => [r.id, r.status]));
  return ids.map((id) => by.get(id) ?? "MISSING");
}

/** Register `flow` with one step per handler given, through HTTP. */
export async function registerSteps(
  call: TestApp["call"],
  flow: string,
  steps: Record<string, unknown>[],
  settings: Record<string, boolean> = {},
): Promise<void> {
  const res = await call("POST", "/register", { name: flow, steps, settings });
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
}

/** Create or update a deployment, through HTTP. */
export async function deploy(call: TestApp["call"], body: Record<string, unknown>): Promise<void> {
  const res = await call("POST", "/deploy", body);
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
}

/** Trigger a deployment, through HTTP; returns the run id and its status. */
export async function trigger(
  call: TestApp["call"],
  deployment: string,
  headers: Record<string, string> = {},
): Promise<{ run_id: string; status: string }> {
  const res = await call("POST", `/trigger/${deployment}`, {}, { headers });
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  return res.body;
}
