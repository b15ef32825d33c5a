// deno-lint-ignore-file no-explicit-any
/** Shared setup of the subflow tests: two pools and a child deployment in `isolated`. */
import assert from "node:assert/strict";
import type { TestApp } from "../support/app.ts";

/** Pools `main` and `isolated`, the child flow and its deployment `child-dep`. */
export async function setupChild(
  call: TestApp["call"],
  child: Record<string, unknown> = {},
  deployment: Record<string, unknown> = {},
): Promise<void> {
  for (const name of ["main", "isolated"]) {
    const pool = await call("POST", "/deploy/pools", { name });
    assert.ok(pool.status < 300, JSON.stringify(pool.body));
  }
  const reg = await call("POST", "/register", {
    name: "child",
    steps: [{ slug: "work", max_attempts: 1 }],
    ...child,
  });
  assert.ok(reg.status < 300, JSON.stringify(reg.body));
  const dep = await call("POST", "/deploy", {
    name: "child-dep",
    flow: "child",
    pool: "isolated",
    parameters: { greeting: "hi" },
    ...deployment,
  });
  assert.ok(dep.status < 300, JSON.stringify(dep.body));
}

/** Register `flow` and start an ad hoc run of it in pool `main`; returns the run id. */
export async function startMain(
  call: TestApp["call"],
  flow: Record<string, unknown>,
  parameters: Record<string, unknown> = {},
): Promise<string> {
  const reg = await call("POST", "/register", flow);
  assert.ok(reg.status < 300, JSON.stringify(reg.body));
  const run = await call("POST", `/trigger/flows/${flow.name}`, { parameters, pool: "main" });
  assert.equal(run.status, 201, JSON.stringify(run.body));
  return run.body.run_id;
}

/** The run document. */
export async function run(call: TestApp["call"], id: string): Promise<any> {
  const r = await call("GET", `/trigger/runs/${id}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** A step of a run document by slug. */
export function step(doc: any, slug: string): any {
  return doc.steps.find((s: any) => s.slug === slug);
}
