// deno-lint-ignore-file no-explicit-any
/** Every route of api.md and every error status, through app.request on a real database. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";

const flow = {
  name: "etl",
  parameters: { type: "object", properties: { day: { type: "string" } }, required: ["day"] },
  steps: [{ slug: "a" }, { slug: "b", depends_on: ["a"] }],
};

function problem(
  res: { status: number; body: any; headers: Headers },
  status: number,
  code: string,
) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.equal(res.body.code, code);
  assert.equal(res.body.status, status);
  assert.ok(typeof res.body.title === "string" && typeof res.body.detail === "string");
}

dbTest("health answers on / and on every function", async (db) => {
  const { call } = testApp(db);
  for (
    const path of [
      "/health",
      "/register/health",
      "/deploy/health",
      "/trigger/health",
      "/heartbeat/health",
    ]
  ) {
    const res = await call("GET", path, undefined, { key: null });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: "ok" });
  }
});

dbTest("401 without a key or with an unknown one, 403 with the wrong scope", async (db) => {
  const { call } = testApp(db);
  problem(await call("GET", "/register/flows", undefined, { key: null }), 401, "unauthorized");
  problem(
    await call("GET", "/register/flows", undefined, { key: "ef_not_a_real_key" }),
    401,
    "unauthorized",
  );
  const made = await call("POST", "/deploy/keys", { name: "ci", scopes: ["trigger"] });
  assert.equal(made.status, 201);
  assert.match(made.body.key, /^ef_/);
  const [stored] = await db.sql<{ hash: string }>`select hash from edgeflow.api_keys`;
  assert.notEqual(stored.hash, made.body.key, "only the hash is stored");
  problem(await call("POST", "/register", flow, { key: made.body.key }), 403, "forbidden");
  assert.equal((await call("GET", "/trigger/runs", undefined, { key: made.body.key })).status, 200);
  problem(
    await call("POST", "/deploy/keys", { name: "x", scopes: ["admin"] }, { key: made.body.key }),
    403,
    "forbidden",
  );

  const reader = await call("POST", "/deploy/keys", { name: "ro", scopes: ["read"] });
  assert.equal(
    (await call("GET", "/register/flows", undefined, { key: reader.body.key })).status,
    200,
  );
  problem(await call("POST", "/register", flow, { key: reader.body.key }), 403, "forbidden");
});

dbTest("400 for a body that is not JSON, 413 over 1 MiB, nothing written", async (db) => {
  const { call } = testApp(db);
  problem(await call("POST", "/register", "{not json"), 400, "invalid_json");
  problem(
    await call("POST", "/register", JSON.stringify({ name: "big", x: "a".repeat(1_100_000) })),
    413,
    "payload_too_large",
  );
  const [{ n }] = await db.sql<{ n: number }>`select count(*)::int as n from edgeflow.flows`;
  assert.equal(n, 0);
});

dbTest("register: 201 new, 200 same, 422 with paths, list, show, archive", async (db) => {
  const { call } = testApp(db);
  assert.equal((await call("POST", "/register", flow)).status, 201);
  const same = await call("POST", "/register", flow);
  assert.equal(same.status, 200);
  assert.equal(same.body.created, false);
  const cyc = await call("POST", "/register", {
    name: "cyc",
    steps: [{ slug: "a", depends_on: ["b"] }, { slug: "b", depends_on: ["a"] }],
  });
  problem(cyc, 422, "validation_failed");
  assert.ok(cyc.body.errors.some((e: any) => e.path === "steps[0].depends_on[0]"));
  const sqlish = await call("POST", "/register", {
    name: "x'; drop table edgeflow.runs; --",
    entrypoint: "m:f",
  });
  problem(sqlish, 422, "validation_failed");
  assert.equal(sqlish.body.errors[0].path, "name");

  await call("POST", "/register", { ...flow, steps: [{ slug: "a" }] });
  const list = await call("GET", "/register/flows");
  assert.deepEqual(list.body.flows.map((f: any) => [f.name, f.version]), [["etl", 2]]);
  const show = await call("GET", "/register/flows/etl");
  assert.deepEqual(show.body.versions.map((v: any) => [v.version, v.archived]), [[2, false], [
    1,
    true,
  ]]);
  problem(await call("GET", "/register/flows/nope"), 404, "not_found");
  assert.equal((await call("POST", "/register/flows/etl/versions/2/archive")).status, 200);
  problem(await call("POST", "/register/flows/etl/versions/9/archive"), 404, "not_found");
  problem(await call("POST", "/register/flows/etl/versions/abc/archive"), 404, "not_found");
});

dbTest("deploy: upsert, list, show, pools; 422 for an unknown flow or pool", async (db) => {
  const { call } = testApp(db);
  await call("POST", "/register", flow);
  problem(await call("POST", "/deploy", { name: "d", flow: "ghost" }), 422, "validation_failed");
  problem(
    await call("POST", "/deploy", { name: "d", flow: "etl", pool: "gpu" }),
    422,
    "validation_failed",
  );
  const pool = await call("POST", "/deploy/pools", { name: "gpu", concurrency_limit: 2 });
  assert.equal(pool.status, 201);
  assert.equal(pool.body.concurrency_limit, 2);
  assert.equal((await call("POST", "/deploy/pools", { name: "gpu" })).status, 200);
  assert.equal((await call("GET", "/deploy/pools/gpu")).body.concurrency_limit, null);
  problem(await call("GET", "/deploy/pools/none"), 404, "not_found");
  assert.deepEqual((await call("GET", "/deploy/pools")).body.pools.map((p: any) => p.name), [
    "default",
    "gpu",
  ]);

  const created = await call("POST", "/deploy", {
    name: "d",
    flow: "etl",
    pool: "gpu",
    parameters: { day: "x" },
  });
  assert.equal(created.status, 201);
  assert.equal(created.body.pool, "gpu");
  assert.ok(Array.isArray(created.body.schedules));
  assert.equal(
    (await call("POST", "/deploy", { name: "d", flow: "etl", pool: "gpu" })).status,
    200,
  );
  assert.deepEqual(
    (await call("GET", "/deploy/deployments")).body.deployments.map((d: any) => d.name),
    ["d"],
  );
  assert.equal((await call("GET", "/deploy/deployments/d")).body.flow, "etl");
  problem(await call("GET", "/deploy/deployments/zzz"), 404, "not_found");
  problem(await call("POST", "/deploy", { name: "d" }), 422, "validation_failed");
});

dbTest(
  "trigger: defaults overlaid, schema 422 with paths, 404, paused and archived 409",
  async (db) => {
    const { call } = testApp(db);
    await call("POST", "/register", flow);
    await call("POST", "/deploy", { name: "d", flow: "etl", parameters: { day: "mon" } });
    const run = await call("POST", "/trigger/d", {});
    assert.equal(run.status, 201);
    assert.deepEqual((await call("GET", `/trigger/runs/${run.body.run_id}`)).body.parameters, {
      day: "mon",
    });
    const bad = await call("POST", "/trigger/d", { parameters: { day: 5 } });
    problem(bad, 422, "validation_failed");
    assert.equal(bad.body.errors[0].path, "parameters.day");
    problem(await call("POST", "/trigger/nope", {}), 404, "not_found");

    await call("POST", "/deploy", {
      name: "p",
      flow: "etl",
      parameters: { day: "x" },
      paused: true,
    });
    problem(await call("POST", "/trigger/p", {}), 409, "paused");
    await call("POST", "/register/flows/etl/versions/1/archive");
    problem(await call("POST", "/trigger/d", {}), 409, "archived");
    const [{ n }] = await db.sql<{ n: number }>`select count(*)::int as n from edgeflow.runs`;
    assert.equal(n, 1, "refused triggers wrote nothing");
  },
);

dbTest("Idempotency-Key: same body → same run (200), other body → 409", async (db) => {
  const { call } = testApp(db);
  await call("POST", "/register", flow);
  await call("POST", "/deploy", { name: "d", flow: "etl", parameters: { day: "x" } });
  const headers = { "idempotency-key": "order-42" };
  const first = await call("POST", "/trigger/d", { parameters: { day: "a" } }, { headers });
  assert.equal(first.status, 201);
  const again = await call("POST", "/trigger/d", { parameters: { day: "a" } }, { headers });
  assert.equal(again.status, 200);
  assert.equal(again.body.run_id, first.body.run_id);
  problem(
    await call("POST", "/trigger/d", { parameters: { day: "b" } }, { headers }),
    409,
    "idempotency_conflict",
  );
});

dbTest("ad hoc flow runs, run listing with a cursor, cancel", async (db) => {
  const { call } = testApp(db);
  await call("POST", "/register", flow);
  problem(await call("POST", "/trigger/flows/ghost", { parameters: {} }), 404, "not_found");
  problem(await call("POST", "/trigger/flows/etl", { parameters: {} }), 422, "validation_failed");
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await call("POST", "/trigger/flows/etl", { parameters: { day: String(i) } });
    assert.equal(r.status, 201);
    assert.equal(r.body.deployment, null);
    ids.push(r.body.run_id);
  }
  const page1 = await call("GET", "/trigger/runs?limit=2");
  assert.equal(page1.body.runs.length, 2);
  const page2 = await call("GET", `/trigger/runs?limit=2&cursor=${page1.body.next_cursor}`);
  const page3 = await call("GET", `/trigger/runs?limit=2&cursor=${page2.body.next_cursor}`);
  assert.equal(page3.body.next_cursor, null);
  const seen = [...page1.body.runs, ...page2.body.runs, ...page3.body.runs].map((r: any) => r.id);
  assert.deepEqual(seen, [...ids].reverse(), "newest first, every run once");
  problem(await call("GET", "/trigger/runs?cursor=garbage"), 422, "validation_failed");
  problem(await call("GET", "/trigger/runs?status=SLEEPING"), 422, "validation_failed");
  assert.equal((await call("GET", "/trigger/runs?flow=etl&status=PENDING")).body.runs.length, 5);

  const cancel = await call("POST", `/trigger/runs/${ids[0]}/cancel`);
  assert.equal(cancel.status, 202);
  assert.equal(cancel.body.status, "CANCELLED");
  problem(await call("POST", `/trigger/runs/${crypto.randomUUID()}/cancel`), 404, "not_found");
  problem(await call("GET", `/trigger/runs/${crypto.randomUUID()}`), 404, "not_found");
  problem(await call("GET", "/trigger/runs/not-a-uuid"), 404, "not_found");
});

dbTest("worker protocol: stale leases 409, unknown tasks 404, retry_at on fail", async (db) => {
  const { call } = testApp(db);
  await call("POST", "/register", { name: "w", steps: [{ slug: "a", base_delay: 1 }] });
  await call("POST", "/trigger/flows/w", {});
  problem(await call("POST", "/heartbeat", { pool: "default" }), 422, "validation_failed");
  const hb = await call("POST", "/heartbeat", {
    worker: "w1",
    pool: "default",
    handlers: ["a"],
    capacity: 1,
  });
  const [t] = hb.body.tasks;
  assert.equal(t.handler, "a");
  problem(
    await call("POST", `/heartbeat/tasks/${t.task}/complete`, { lease: crypto.randomUUID() }),
    409,
    "stale_lease",
  );
  problem(
    await call("POST", `/heartbeat/tasks/${t.task}/complete`, { lease: "forged" }),
    409,
    "stale_lease",
  );
  problem(
    await call("POST", `/heartbeat/tasks/${crypto.randomUUID()}/complete`, { lease: t.lease }),
    404,
    "not_found",
  );
  const again = await call("POST", "/heartbeat", {
    worker: "w1",
    pool: "default",
    capacity: 0,
    running: [{ task: t.task, lease: t.lease }, { task: crypto.randomUUID(), lease: "x" }],
  });
  assert.equal(again.body.lost.length, 1);
  const failed = await call("POST", `/heartbeat/tasks/${t.task}/fail`, {
    lease: t.lease,
    error: { message: "boom" },
  });
  assert.equal(failed.status, 200);
  assert.ok(Date.parse(failed.body.retry_at) > Date.now());
  problem(
    await call("POST", `/heartbeat/tasks/${t.task}/fail`, {
      lease: t.lease,
      error: { message: "boom" },
    }),
    409,
    "stale_lease",
  );
});

dbTest("variables: put, get, list, delete", async (db) => {
  const { call } = testApp(db);
  assert.equal((await call("PUT", "/deploy/variables/result", { value: { rows: 3 } })).status, 200);
  assert.deepEqual((await call("GET", "/deploy/variables/result")).body.value, { rows: 3 });
  assert.equal((await call("GET", "/deploy/variables")).body.variables.length, 1);
  assert.equal((await call("DELETE", "/deploy/variables/result")).status, 204);
  problem(await call("GET", "/deploy/variables/result"), 404, "not_found");
  problem(
    await call("PUT", "/deploy/variables/bad%20name", { value: 1 }),
    422,
    "validation_failed",
  );
});

dbTest("unknown routes are a 404 problem", async (db) => {
  problem(await testApp(db).call("GET", "/nowhere"), 404, "not_found");
});
