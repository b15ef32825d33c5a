/**
 * Conformance, logs (docs/worker-protocol.md, "Logs"): a handler's
 * `ctx.log` lines are shipped under the task's lease before its result, so
 * a finished run has all of them, in order, with their levels and fields.
 */
import assert from "node:assert/strict";
import { conformance } from "./harness.ts";

conformance("ctx.log lines are shipped before the result, in order, with levels", async (c) => {
  const name = await c.flow([{ slug: "talk", handler: "log", args: { lines: 3 } }]);
  await c.start(name);
  const runId = await c.trigger(name);
  const run = await c.waitRun(runId);
  assert.equal(run.status, "COMPLETED", JSON.stringify(run));
  const { body } = await c.served.call("GET", `/trigger/runs/${runId}/logs`);
  assert.deepEqual(
    // deno-lint-ignore no-explicit-any
    body.logs.map((l: any) => [l.step, l.attempt, l.level, l.message, l.fields?.i ?? null]),
    [
      ["talk", 1, "info", "line 0", 0],
      ["talk", 1, "info", "line 1", 1],
      ["talk", 1, "info", "line 2", 2],
      ["talk", 1, "warn", "done logging", null],
    ],
  );
  assert.deepEqual(body.dropped, []);
  // Shipped under the lease, before the result: every logs call precedes the completion.
  const calls = c.served.exchanges.filter((x) => x.path.includes("/heartbeat/tasks/"));
  const complete = calls.findIndex((x) => x.path.endsWith("/complete"));
  assert.ok(complete > 0 && calls.slice(0, complete).every((x) => x.path.endsWith("/logs")));
  assert.equal(calls.length, complete + 1, "no logs call after the result");
});
