// deno-lint-ignore-file no-explicit-any
/**
 * A history for the chart tests: a one-step flow and a deployment with runs
 * that completed, failed, were cancelled and are still pending, all driven
 * through the HTTP API (a worker completes or fails each claimed task).
 */
import assert from "node:assert/strict";

type Call = (
  method: string,
  path: string,
  body?: unknown,
) => Promise<{ status: number; body: any }>;

/** Made: 6 completed, 2 failed, 1 cancelled (deployment "nightly"), 2 pending ad hoc. */
export async function makeHistory(call: Call): Promise<void> {
  const reg = await call("POST", "/register", { name: "etl", steps: [{ slug: "only" }] });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  assert.equal((await call("POST", "/deploy", { name: "nightly", flow: "etl" })).status, 201);
  const outcomes = ["ok", "ok", "fail", "ok", "ok", "fail", "ok", "ok", "cancel"];
  for (const outcome of outcomes) {
    const run = await call("POST", "/trigger/nightly", {});
    assert.equal(run.status, 201, JSON.stringify(run.body));
    if (outcome === "cancel") {
      await call("POST", `/trigger/runs/${run.body.run_id}/cancel`);
      continue;
    }
    const beat = await call("POST", "/heartbeat", { worker: "w1", pool: "default", capacity: 1 });
    const [task] = beat.body.tasks;
    assert.ok(task, JSON.stringify(beat.body));
    const res = outcome === "ok"
      ? await call("POST", `/heartbeat/tasks/${task.task}/complete`, { lease: task.lease })
      : await call("POST", `/heartbeat/tasks/${task.task}/fail`, {
        lease: task.lease,
        error: { message: "the warehouse refused", retryable: false },
      });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  for (let i = 0; i < 2; i++) {
    assert.equal((await call("POST", "/trigger/flows/etl", {})).status, 201);
  }
}
