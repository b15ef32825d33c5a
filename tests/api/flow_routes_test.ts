// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";

const etl = {
  name: "etl",
  parameters: { type: "object", properties: { day: { type: "string" } }, required: ["day"] },
  steps: [
    { slug: "extract", handler: "etl.extract" },
    { slug: "split", handler: "etl.split", depends_on: ["extract"] },
    { slug: "load_part", handler: "etl.load_part", depends_on: ["split"], map: "split" },
    { slug: "report", handler: "etl.report", depends_on: ["load_part", "extract"] },
  ],
};

dbTest("register → deploy → trigger → worker protocol → completed run", async (db) => {
  const { call } = testApp(db);
  const reg = await call("POST", "/register", etl);
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  assert.equal(reg.body.version, 1);
  assert.equal((await call("POST", "/register", etl)).status, 200, "identical → 200");

  const dep = await call("POST", "/deploy", {
    name: "etl-nightly",
    flow: "etl",
    parameters: { day: "today" },
  });
  assert.equal(dep.status, 201, JSON.stringify(dep.body));
  assert.equal(
    (await call("POST", "/deploy", {
      name: "etl-nightly",
      flow: "etl",
      parameters: { day: "today" },
    })).status,
    200,
  );

  const trig = await call("POST", "/trigger/etl-nightly", { parameters: { day: "2026-11-22" } });
  assert.equal(trig.status, 201, JSON.stringify(trig.body));
  assert.deepEqual(Object.keys(trig.body).sort(), [
    "deployment",
    "flow",
    "run_id",
    "status",
    "version",
  ]);

  const outputs: Record<string, (input: any) => unknown> = {
    "etl.extract": (i) => ({ day: i.run.day }),
    "etl.split": () => [1, 2],
    "etl.load_part": (i) => i.item * 10,
    "etl.report": (i) => ({ parts: i.deps.load_part, day: i.deps.extract.day }),
  };
  for (let round = 0; round < 10; round++) {
    const hb = await call("POST", "/heartbeat", {
      worker: "w1",
      pool: "default",
      capacity: 4,
      running: [],
    });
    assert.equal(hb.status, 200);
    assert.equal(hb.body.heartbeat_seconds, 10);
    for (const t of hb.body.tasks) {
      const done = await call("POST", `/heartbeat/tasks/${t.task}/complete`, {
        lease: t.lease,
        output: outputs[t.handler](t.input),
      });
      assert.equal(done.status, 200, JSON.stringify(done.body));
    }
    if (!hb.body.tasks.length) break;
  }
  const run = await call("GET", `/trigger/runs/${trig.body.run_id}`);
  assert.equal(run.status, 200);
  assert.equal(run.body.status, "COMPLETED");
  assert.equal(run.body.deployment, "etl-nightly");
  assert.deepEqual(run.body.parameters, { day: "2026-11-22" });
  assert.deepEqual(run.body.output, { report: { parts: [10, 20], day: "2026-11-22" } });
  assert.equal(run.body.steps.length, 4);

  const workers = await call("GET", "/heartbeat/workers");
  assert.equal(workers.body.workers[0].name, "w1");
  assert.equal(workers.body.workers[0].status, "ONLINE");
});
