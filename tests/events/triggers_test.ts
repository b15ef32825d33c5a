/**
 * Deployments started and cancelled by events (issue 16): `triggers` start
 * one run per matching event (idempotent per event id), `cancel_on` cancels
 * the live runs whose rendered key is the event's.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { deploy } from "../limits/helpers.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { processEvent } from "../../shared/engine/events.ts";
import { emit, register, runDoc } from "./helpers.ts";

const BUILD = {
  name: "build",
  parameters: {
    type: "object",
    properties: { repo: { type: "string" }, sha: { type: "string" }, n: { type: "integer" } },
    required: ["repo"],
  },
  steps: [{ slug: "compile" }],
};

async function runsOf(sql: Sql, name: string) {
  return await sql<{ id: string; parameters: Record<string, unknown>; status: string }>`
    select r.id::text, r.parameters, r.status from edgeflow.runs r
      join edgeflow.deployments d on d.id = r.deployment_id
     where d.name = ${name} order by r.created_at, r.id`;
}

dbTest("a matching event starts one run with rendered parameters, once per event", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  await register(call, BUILD);
  await deploy(call, {
    name: "build-main",
    flow: "build",
    parameters: { sha: "unknown" },
    triggers: [{
      event: "github.push",
      match: { "/ref": "refs/heads/main" },
      parameters: {
        repo: "{{ event.key }}",
        sha: "{{ event.payload/after }}",
        n: "{{ event.payload/n }}",
      },
    }],
  });
  const doc = (await call("GET", "/deploy/deployments/build-main")).body;
  assert.equal(doc.triggers[0].event, "github.push");

  let res = await emit(call, {
    name: "github.push",
    key: "acme/api",
    payload: { ref: "refs/heads/dev", after: "000" },
  });
  assert.equal(res.body.runs_started, 0, "the match refuses another branch");
  res = await emit(call, {
    name: "github.push",
    key: "acme/api",
    payload: { ref: "refs/heads/main", after: "abc123", n: 7 },
    id: "delivery-1",
  });
  assert.equal(res.status, 202);
  assert.equal(res.body.runs_started, 1);
  const runs = await runsOf(sql, "build-main");
  assert.equal(runs.length, 1);
  assert.deepEqual(runs[0].parameters, { repo: "acme/api", sha: "abc123", n: 7 });

  // The same delivery again, and the same event processed again (as the tick
  // does after a crash): still one run.
  res = await emit(call, {
    name: "github.push",
    key: "acme/api",
    payload: { ref: "refs/heads/main" },
    id: "delivery-1",
  });
  assert.equal(res.body.runs_started, 0);
  const again = await processEvent(sql, res.body.event);
  assert.equal(again.runs_started, 0);
  assert.equal((await runsOf(sql, "build-main")).length, 1);

  // Parameters the flow's schema refuses: no run, the refusal is reported.
  res = await emit(call, {
    name: "github.push",
    key: "acme/api",
    payload: { ref: "refs/heads/main", n: "seven" },
  });
  assert.equal(res.body.runs_started, 0);
  assert.equal(res.body.refused.length, 1);
  assert.match(res.body.refused[0].message, /parameters\.n/);
});

dbTest("cancel_on cancels the live runs whose key is the event's, and only those", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  await register(call, { name: "fulfil", steps: [{ slug: "pack" }] });
  await deploy(call, {
    name: "fulfil",
    flow: "fulfil",
    cancel_on: [{ event: "order.cancelled", key: "{{ run.order_id }}" }],
  });
  const ids = [];
  for (const order of ["o1", "o2", "o1"]) {
    const r = await call("POST", "/trigger/fulfil", { parameters: { order_id: order } });
    assert.equal(r.status, 201);
    ids.push(r.body.run_id);
  }
  const res = await emit(call, { name: "order.cancelled", key: "o1" });
  assert.equal(res.body.runs_cancelled, 2);
  const statuses = [];
  for (const id of ids) statuses.push((await runDoc(call, id)).status);
  assert.deepEqual(statuses, ["CANCELLED", "PENDING", "CANCELLED"]);
  assert.equal((await runDoc(call, ids[0])).error.code, "cancelled_by_event");
  const [{ n }] = await sql<{ n: number }>`
    select count(*)::int as n from edgeflow.tasks where status = 'QUEUED'`;
  assert.equal(n, 1, "only o2's task is left");
});

dbTest("bad event bodies and bad definitions are 4xx naming the field", async (db) => {
  const { call } = testApp(db);
  let res = await call("POST", "/trigger/events", { name: "has space", key: "k" });
  assert.equal(res.status, 422);
  assert.equal(res.body.errors[0].path, "name");
  res = await call("POST", "/trigger/events", { name: "ok", keys: "k" });
  assert.equal(res.status, 422);
  assert.equal(res.body.errors[0].path, "keys");
  res = await call("GET", "/trigger/events?limit=0");
  assert.equal(res.status, 422);
  res = await call("POST", "/trigger/events", { name: "ok" }, { key: null });
  assert.equal(res.status, 401);

  const bad = async (steps: unknown[], path: string) => {
    const r = await call("POST", "/register", { name: "bad", steps });
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.ok(
      r.body.errors.some((e: { path: string }) => e.path === path),
      `${path} in ${JSON.stringify(r.body.errors)}`,
    );
  };
  await bad([{ slug: "w", wait: { event: "e", timeout: 0 } }], "steps[0].wait.timeout");
  await bad([{ slug: "w", wait: { event: "e" } }], "steps[0].wait.timeout");
  await bad(
    [{ slug: "w", wait: { event: "e", timeout: 5, key: "{{ item }}" } }],
    "steps[0].wait.key",
  );
  await bad(
    [{ slug: "w", wait: { event: "e", timeout: 5, key: "{{ deps.x }}" } }],
    "steps[0].wait.key",
  );
  await bad([{ slug: "w", handler: "h", wait: { event: "e", timeout: 5 } }], "steps[0].handler");
  await bad(
    [{ slug: "w", wait: { event: "e", timeout: 5, match: { status: 1 } } }],
    "steps[0].wait.match.status",
  );
  await bad(
    [{ slug: "w", wait: { event: "e", timeout: 5, on_timeout: "retry" } }],
    "steps[0].wait.on_timeout",
  );
  await bad([{ slug: "w", sleep: -1 }], "steps[0].sleep");
  await bad([{ slug: "w", sleep: { until: "tomorrow" } }], "steps[0].sleep.until");
  await bad([{ slug: "w", sleep: 5, wait: { event: "e", timeout: 5 } }], "steps[0].sleep");

  await bad(
    [{ slug: "w", concurrency: [{ key: "{{ item }}", limit: 1 }] }],
    "steps[0].concurrency[0].key",
  );
  await bad(
    [{ slug: "w", concurrency: [{ key: "k", limit: 0 }] }],
    "steps[0].concurrency[0].limit",
  );
  await bad(
    [{ slug: "w", sleep: 5, concurrency: [{ key: "k", limit: 1 }] }],
    "steps[0].concurrency",
  );

  await register(call, { name: "fine", steps: [{ slug: "a" }] });
  const badDeploy = async (extra: Record<string, unknown>, path: string) => {
    const r = await call("POST", "/deploy", { name: "d", flow: "fine", ...extra });
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.ok(
      r.body.errors.some((e: { path: string }) => e.path === path),
      `${path} in ${JSON.stringify(r.body.errors)}`,
    );
  };
  await badDeploy(
    { triggers: [{ event: "e", parameters: { a: "{{ run.x }}" } }] },
    "triggers[0].parameters.a",
  );
  await badDeploy({ triggers: [{ event: "e", debounce: 0 }] }, "triggers[0].debounce");
  await badDeploy({ cancel_on: [{ event: "e", key: "{{ event.key }}" }] }, "cancel_on[0].key");
  await badDeploy({ concurrency: [{ key: "{{ run.c }}", limit: 0 }] }, "concurrency[0].limit");
  await badDeploy({ concurrency: [{ key: "{{ nope }}", limit: 1 }] }, "concurrency[0].key");
  assert.equal((await call("GET", "/deploy/deployments/d")).status, 404, "nothing was written");
});
