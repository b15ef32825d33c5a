/**
 * Flow tags count for tag concurrency limits (issue 11, item 1): a run's
 * tags are the union of its flow's, its deployment's and its trigger's, and
 * a tag limit holds back every task of such runs, ad hoc ones included.
 * Observed through real claims: workers heartbeating over HTTP.
 */
// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { type TestApp, testApp } from "../support/app.ts";
import { json, serveApp } from "../cli/harness.ts";
import { deploy, registerSteps, runStatuses } from "./helpers.ts";

/** Messages a claim refused come back after a second; a test need not wait for that. */
async function showRefused(sql: Sql): Promise<void> {
  await sql`select pgmq.set_vt(queue_name, msg_id, 0) from edgeflow.tasks
             where status = 'QUEUED' and msg_id is not null`;
}

async function runningTasks(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }>`
    select count(*)::int as n from edgeflow.tasks where status = 'RUNNING'`;
  return row.n;
}

/**
 * Rounds of three workers heartbeating at once, each asking for 6 tasks,
 * until no task is left; every claimed task is completed at the end of its
 * round. Returns the most tasks ever running at once.
 */
async function drain(call: TestApp["call"], sql: Sql, handlers: string[] | null) {
  let peak = 0;
  for (let round = 0; round < 20; round++) {
    const beats = await Promise.all(["w1", "w2", "w3"].map((worker) =>
      call("POST", "/heartbeat", {
        worker,
        pool: "default",
        capacity: 6,
        ...(handlers ? { handlers } : {}),
      })
    ));
    const claimed = beats.flatMap((b) => {
      assert.equal(b.status, 200, JSON.stringify(b.body));
      return b.body.tasks;
    });
    const running = await runningTasks(sql);
    assert.equal(running, claimed.length, "nothing else runs");
    assert.ok(running <= 2, `round ${round}: ${running} tasks running under a limit of 2`);
    peak = Math.max(peak, running);
    for (const t of claimed) {
      const done = await call("POST", `/heartbeat/tasks/${t.task}/complete`, {
        lease: t.lease,
        output: { ok: true },
      });
      assert.equal(done.status, 200, JSON.stringify(done.body));
    }
    const [left] = await sql<{ n: number }>`
      select count(*)::int as n from edgeflow.tasks where status in ('QUEUED', 'RUNNING')`;
    if (left.n === 0) return peak;
    await showRefused(sql);
  }
  throw new Error("tasks left after 20 rounds");
}

dbTest(
  "a flow tagged etl with a tag limit of 2: ad hoc and deployment runs never run more than 2 tasks at once",
  async (db) => {
    const { call } = testApp(db);
    const { sql } = db;
    const reg = await call("POST", "/register", {
      name: "etl-flow",
      tags: ["etl"],
      steps: [{ slug: "extract", handler: "etl.extract" }],
    });
    assert.equal(reg.status, 201, JSON.stringify(reg.body));
    const limit = await call("POST", "/deploy/concurrency-limits", { tag: "etl", limit: 2 });
    assert.equal(limit.status, 201, JSON.stringify(limit.body));
    await deploy(call, { name: "etl-nightly", flow: "etl-flow", tags: ["nightly"] });

    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const adHoc = await call("POST", "/trigger/flows/etl-flow", {});
      assert.equal(adHoc.status, 201, JSON.stringify(adHoc.body));
      ids.push(adHoc.body.run_id);
      const viaDeployment = await call("POST", "/trigger/etl-nightly", {
        ...(i === 0 ? { tags: ["manual", "etl"] } : {}),
      });
      assert.equal(viaDeployment.status, 201, JSON.stringify(viaDeployment.body));
      ids.push(viaDeployment.body.run_id);
    }

    const adHocRun = await call("GET", `/trigger/runs/${ids[0]}`);
    assert.deepEqual(adHocRun.body.tags, ["etl"], "the flow's tags");
    const tagged = await call("GET", `/trigger/runs/${ids[1]}`);
    assert.deepEqual(tagged.body.tags, ["etl", "nightly", "manual"], "flow, deployment, trigger");
    assert.deepEqual((await call("GET", `/trigger/runs/${ids[3]}`)).body.tags, ["etl", "nightly"]);

    const peak = await drain(call, sql, null);
    assert.equal(peak, 2, "the limit is reached, not just respected");
    assert.deepEqual(await runStatuses(sql, ids), Array(6).fill("COMPLETED"));
    assert.equal((await call("GET", "/deploy/concurrency-limits/etl")).body.active_slots, 0);
  },
);

dbTest("every task of a tagged flow's run counts, map tasks included", async (db) => {
  const { call } = testApp(db);
  const { sql } = db;
  const reg = await call("POST", "/register", {
    name: "fan",
    tags: ["etl"],
    steps: [
      { slug: "split", handler: "fan.split" },
      { slug: "part", handler: "fan.part", depends_on: ["split"], map: "split" },
    ],
  });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  await call("POST", "/deploy/concurrency-limits", { tag: "etl", limit: 2 });
  const run = await call("POST", "/trigger/flows/fan", {});
  // split hands six items to the map step
  const [split] = (await call("POST", "/heartbeat", {
    worker: "w0",
    pool: "default",
    capacity: 1,
  })).body.tasks;
  assert.equal(split.step, "split");
  await call("POST", `/heartbeat/tasks/${split.task}/complete`, {
    lease: split.lease,
    output: [1, 2, 3, 4, 5, 6],
  });
  assert.equal(await drain(call, sql, ["fan.part"]), 2);
  assert.equal((await call("GET", `/trigger/runs/${run.body.run_id}`)).body.status, "COMPLETED");
});

dbTest("trigger tags are validated: a clear 422 naming the field, nothing started", async (db) => {
  const { call } = testApp(db);
  const { sql } = db;
  await registerSteps(call, "plain", [{ slug: "s" }]);
  await deploy(call, { name: "plain-dep", flow: "plain" });
  for (
    const [path, body, where] of [
      ["/trigger/flows/plain", { tags: "etl" }, "tags"],
      ["/trigger/flows/plain", { tags: [""] }, "tags[0]"],
      ["/trigger/plain-dep", { tags: ["ok", 3] }, "tags[1]"],
      ["/trigger/plain-dep", { tags: ["a\nb"] }, "tags[0]"],
    ] as const
  ) {
    const res = await call("POST", path, body);
    assert.equal(res.status, 422, `${path} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.code, "validation_failed");
    assert.equal(res.body.errors[0].path, where);
  }
  const [runs] = await sql<{ n: number }>`select count(*)::int as n from edgeflow.runs`;
  assert.equal(runs.n, 0);
  const ok = await call("POST", "/trigger/flows/plain", { tags: ["b", "a", "b"] });
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  assert.deepEqual((await call("GET", `/trigger/runs/${ok.body.run_id}`)).body.tags, ["b", "a"]);
});

dbTest(
  "importing the trex example, then running its flow ad hoc, respects its concurrencyLimitOptions",
  async (db) => {
    const server = serveApp(db);
    try {
      const imported = await server.cli(
        ["import", "trex", "examples/trex/package.json", "--json"],
        { env: { SYNC_CONCURRENCY: "2" } },
      );
      assert.equal(imported.code, 0, imported.stderr);
      const limit = json(imported).find((r: any) => r.kind === "limit");
      assert.equal(limit.name, "sync-limit");

      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const run = await server.cli(["run", "--flow", "data-sync", "--json"]);
        assert.equal(run.code, 0, run.stderr);
        ids.push(json(run).run_id);
      }
      const deployed = await server.cli(["run", "data-sync", "--tag", "manual", "--json"]);
      assert.equal(deployed.code, 0, deployed.stderr);
      ids.push(json(deployed).run_id);
      const shown = json(await server.cli(["runs", "show", ids[0], "--json"]));
      assert.deepEqual([...shown.tags].sort(), ["scheduled", "sync", "sync-limit"]);
      const withTag = json(await server.cli(["runs", "show", ids[3], "--json"]));
      assert.deepEqual([...withTag.tags].sort(), ["manual", "scheduled", "sync", "sync-limit"]);

      const { call } = testApp(db);
      assert.equal(await drain(call, db.sql, null), 2);
      assert.deepEqual(await runStatuses(db.sql, ids), Array(4).fill("COMPLETED"));
    } finally {
      await server.close();
    }
  },
);
