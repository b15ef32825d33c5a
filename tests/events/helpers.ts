/** Shared setup of the events and waits tests (issue 16). */
import assert from "node:assert/strict";
import type { Sql } from "../../shared/db/sql.ts";
import type { TestApp } from "../support/app.ts";
import { claimTasks, completeTask } from "../../shared/engine/tasks.ts";

/** The order flow: `charge`, then a wait for `order.paid` of the run's order, then `ship`. */
export const ORDER_FLOW = (wait: Record<string, unknown> = {}) => ({
  name: "order",
  steps: [
    { slug: "charge" },
    {
      slug: "paid",
      depends_on: ["charge"],
      wait: {
        event: "order.paid",
        key: "{{ run.order_id }}",
        match: { "/status": "ok" },
        timeout: 3600,
        ...wait,
      },
    },
    { slug: "ship", depends_on: ["paid"] },
  ],
});

/** Register a flow through HTTP. */
export async function register(call: TestApp["call"], flow: Record<string, unknown>) {
  const res = await call("POST", "/register", flow);
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
}

/** Start an ad hoc run through HTTP; its id. */
export async function start(
  call: TestApp["call"],
  flow: string,
  parameters: Record<string, unknown>,
): Promise<string> {
  const res = await call("POST", `/trigger/flows/${flow}`, { parameters });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.run_id;
}

/** The run document. */
export async function runDoc(call: TestApp["call"], id: string) {
  const res = await call("GET", `/trigger/runs/${id}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** Step slug → status of a run. */
export async function stepStatuses(call: TestApp["call"], id: string) {
  const doc = await runDoc(call, id);
  return Object.fromEntries(
    doc.steps.map((s: { slug: string; status: string }) => [s.slug, s.status]),
  );
}

/** Claim the run's queued task of `slug` and complete it with `output`; returns its input. */
export async function runStep(sql: Sql, runId: string, slug: string, output: unknown = null) {
  const claimed = await claimTasks(sql, "default", [slug], 100);
  const task = claimed.find((t) => t.run_id === runId);
  assert.ok(task, `a task of ${slug} of run ${runId} was claimable`);
  const others = claimed.filter((t) => t !== task).map((t) => ({ task: t.task, lease: t.lease }));
  if (others.length > 0) {
    await sql`select edgeflow.hand_back_claims(${JSON.stringify(others)}::text::jsonb)`;
  }
  const done = await completeTask(sql, task.task, task.lease, output);
  assert.ok("ok" in done, JSON.stringify(done));
  return task.input;
}

/** Send an event through HTTP. */
export async function emit(call: TestApp["call"], body: Record<string, unknown>) {
  const res = await call("POST", "/trigger/events", body);
  assert.ok(res.status === 202 || res.status === 200, JSON.stringify(res.body));
  return res;
}

/** Run the tick through HTTP. */
export async function tick(call: TestApp["call"]) {
  const res = await call("POST", "/trigger/tick");
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}
