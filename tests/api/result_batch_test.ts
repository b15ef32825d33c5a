/**
 * Batched results over HTTP (`POST /heartbeat/tasks/complete` and `…/fail`):
 * each entry fenced and answered in place, the body validated whole.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { deploy, registerSteps, trigger } from "../limits/helpers.ts";

const FORGED = "00000000-0000-4000-8000-000000000000";

async function setup(call: ReturnType<typeof testApp>["call"], runs: number) {
  await registerSteps(call, "batchy", [{ slug: "a" }, { slug: "b", depends_on: ["a"] }]);
  await deploy(call, { name: "batchy", flow: "batchy" });
  const ids: string[] = [];
  for (let i = 0; i < runs; i++) ids.push((await trigger(call, "batchy")).run_id);
  const hb = await call("POST", "/heartbeat", {
    worker: "w",
    pool: "default",
    capacity: runs,
    running: [],
  });
  assert.equal(hb.body.tasks.length, runs);
  return { ids, tasks: hb.body.tasks as { task: string; lease: string; run_id: string }[] };
}

dbTest("a batch of completions answers each entry in place and advances every run", async (db) => {
  const { call } = testApp(db);
  const { tasks } = await setup(call, 3);
  const [t1, t2, t3] = tasks;
  const res = await call("POST", "/heartbeat/tasks/complete", {
    results: [
      { task: t1.task, lease: t1.lease, output: { n: 1 } },
      { task: t2.task, lease: FORGED, output: { n: 2 } },
      { task: t3.task, lease: "not-a-lease-we-issued", output: { n: 3 } },
      { task: t1.task, lease: t1.lease, output: { n: 1 } },
      { task: crypto.randomUUID(), lease: FORGED, output: null },
    ],
  });
  assert.equal(res.status, 200);
  const r = res.body.results;
  assert.deepEqual(r.map((x: { status: number }) => x.status), [200, 409, 409, 409, 404]);
  assert.equal(r[0].task, t1.task);
  assert.equal(r[0].ok, true);
  assert.equal(r[0].run_status, "RUNNING");
  assert.deepEqual(r.slice(1, 4).map((x: { code: string }) => x.code), [
    "stale_lease",
    "stale_lease",
    "stale_lease",
  ]);
  assert.equal(r[4].code, "not_found");

  // The accepted one advanced its run: b is claimable; the refused ones changed nothing.
  const states = await db.sql<{ id: string; status: string; output: unknown }>`
    select id::text, status, output from edgeflow.tasks where slug = 'a' order by id`;
  const byId = new Map(states.map((s) => [s.id, s]));
  assert.equal(byId.get(t1.task)!.status, "COMPLETED");
  assert.deepEqual(byId.get(t1.task)!.output, { n: 1 });
  assert.equal(byId.get(t2.task)!.status, "RUNNING");
  assert.equal(byId.get(t3.task)!.status, "RUNNING");
  const hb = await call("POST", "/heartbeat", {
    worker: "w",
    pool: "default",
    capacity: 10,
    running: [],
  });
  assert.deepEqual(hb.body.tasks.map((t: { run_id: string; step: string }) => [t.run_id, t.step]), [
    [t1.run_id, "b"],
  ]);
  assert.deepEqual(hb.body.tasks[0].input.deps, { a: { n: 1 } });

  // The rest complete in one call; the dependents of both appear.
  const rest = await call("POST", "/heartbeat/tasks/complete", {
    results: [t2, t3].map((t) => ({ task: t.task, lease: t.lease, output: t.task })),
  });
  assert.deepEqual(rest.body.results.map((x: { status: number }) => x.status), [200, 200]);
  const next = await call("POST", "/heartbeat", {
    worker: "w",
    pool: "default",
    capacity: 10,
    running: [],
  });
  assert.equal(next.body.tasks.length, 2);
});

dbTest("a batch of failures retries or fails each entry as its own call would", async (db) => {
  const { call } = testApp(db);
  await registerSteps(call, "flaky", [{ slug: "once", max_attempts: 1 }, {
    slug: "twice",
    max_attempts: 2,
  }]);
  await deploy(call, { name: "flaky", flow: "flaky" });
  const { run_id } = await trigger(call, "flaky");
  const hb = await call("POST", "/heartbeat", {
    worker: "w",
    pool: "default",
    capacity: 2,
    running: [],
  });
  const by = Object.fromEntries(
    hb.body.tasks.map((t: { step: string; task: string; lease: string }) => [t.step, t]),
  );
  const res = await call("POST", "/heartbeat/tasks/fail", {
    results: [
      { task: by.twice.task, lease: by.twice.lease, error: { message: "try again" } },
      { task: by.once.task, lease: FORGED, error: { message: "not mine" } },
    ],
  });
  assert.equal(res.status, 200);
  const [retried, stale] = res.body.results;
  assert.equal(retried.status, 200);
  assert.equal(retried.attempt, 1);
  assert.ok(typeof retried.retry_at === "string");
  assert.equal(stale.status, 409);
  assert.equal(stale.code, "stale_lease");

  const final = await call("POST", "/heartbeat/tasks/fail", {
    results: [{
      task: by.once.task,
      lease: by.once.lease,
      error: { message: "boom", retryable: false },
    }],
  });
  assert.equal(final.body.results[0].status, 200);
  assert.equal(final.body.results[0].run_status, "FAILED");
  const [run] = await db.sql<{ status: string }>`
    select status from edgeflow.runs where id = ${run_id}::uuid`;
  assert.equal(run.status, "FAILED");
});

dbTest("a batch that does not validate is refused whole and changes nothing", async (db) => {
  const { call } = testApp(db);
  const { tasks } = await setup(call, 2);
  for (
    const body of [
      { results: [] },
      { results: [{ task: tasks[0].task, lease: tasks[0].lease }, { task: "nope", lease: "x" }] },
      { results: [{ task: tasks[0].task }] },
      [{ task: tasks[0].task, lease: tasks[0].lease }],
    ]
  ) {
    const res = await call("POST", "/heartbeat/tasks/complete", body);
    assert.equal(res.status, 422, JSON.stringify(body));
    assert.equal(res.body.code, "validation_failed");
  }
  const bad = await call("POST", "/heartbeat/tasks/complete", {
    results: [{ task: tasks[0].task, lease: tasks[0].lease }, { task: "nope", lease: "x" }],
  });
  assert.ok(bad.body.errors.some((e: { path: string }) => e.path === "results[1].task"));
  const fail = await call("POST", "/heartbeat/tasks/fail", {
    results: [{ task: tasks[0].task, lease: tasks[0].lease, error: {} }],
  });
  assert.equal(fail.status, 422);
  const [n] = await db.sql<{ n: number }>`
    select count(*)::int as n from edgeflow.tasks where status <> 'RUNNING'`;
  assert.equal(n.n, 0);
});

dbTest(
  "a batch with `next` claims the worker's next tasks in the same call and the same transaction",
  async (db) => {
    const { call } = testApp(db);
    const { tasks } = await setup(call, 3);
    const [t1, t2, t3] = tasks;
    const res = await call("POST", "/heartbeat/tasks/complete", {
      results: [
        { task: t1.task, lease: t1.lease, output: 1 },
        { task: t2.task, lease: t2.lease, output: 2 },
        { task: t3.task, lease: FORGED, output: 3 },
      ],
      next: { worker: "w", pool: "default", capacity: 1 },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.results.map((x: { status: number }) => x.status), [200, 200, 409]);
    const next = res.body.next;
    assert.equal(next.long_poll, false);
    assert.ok(next.lease_seconds > 0 && next.heartbeat_seconds > 0);
    assert.deepEqual([next.cancel, next.lost], [[], []]);
    // Capacity 1 of the two dependents made ready: one is claimed, the other stays queued.
    assert.equal(next.tasks.length, 1);
    const [b] = next.tasks as { task: string; lease: string; run_id: string; step: string }[];
    assert.equal(b.step, "b");
    assert.ok([t1.run_id, t2.run_id].includes(b.run_id));
    const [queued] = await db.sql<{ n: number }>`
    select count(*)::int as n from edgeflow.tasks where slug = 'b' and status = 'QUEUED'`;
    assert.equal(queued.n, 1);
    // One transaction, one commit: the completed task and the claimed one were
    // last written by the same transaction (edgeflow.complete_tasks_and_claim).
    const writers = await db.sql<{ id: string; xid: string }>`
      select id::text, xmin::text as xid from edgeflow.tasks where id in (${t1.task}, ${b.task})`;
    assert.equal(writers.length, 2);
    assert.equal(writers[0].xid, writers[1].xid, JSON.stringify(writers));

    // The lease it brought is current: completing under it (and claiming again) ends that run.
    const again = await call("POST", "/heartbeat/tasks/complete", {
      results: [{ task: b.task, lease: b.lease, output: "b" }],
      next: { worker: "w", pool: "default", handlers: ["b"], capacity: 10 },
    });
    assert.equal(again.body.results[0].status, 200);
    assert.equal(again.body.results[0].run_status, "COMPLETED");
    assert.deepEqual(
      again.body.next.tasks.map((t: { step: string }) => t.step),
      ["b"],
      "the other run's b; a handler the worker does not name is not claimed",
    );
  },
);

dbTest(
  "results and their next claim commit durably: the heartbeat's synchronous_commit off stays inside the claim",
  async (db) => {
    const { call } = testApp(db);
    const { tasks } = await setup(call, 1);
    const [t] = tasks;
    // A heartbeat alone commits without waiting for the WAL flush; results must wait.
    const setting = await db.sql.begin(async (tx) => {
      const [row] = await tx<{ r: { results: { ok?: boolean }[]; next: { tasks: unknown[] } } }>`
        select edgeflow.complete_tasks_and_claim(
                 ${JSON.stringify([{ task: t.task, lease: t.lease, output: 1 }])}::text::jsonb,
                 null, true, 'w', 'default', null, 5, 10) as r`;
      assert.equal(row.r.results[0].ok, true);
      assert.equal(row.r.next.tasks.length, 1, "b, made ready by the result, is claimed");
      const [{ s }] = await tx<{ s: string }>`select current_setting('synchronous_commit') as s`;
      return s;
    });
    assert.equal(setting, "on");
  },
);

dbTest(
  "`next` under another key's worker name is refused in place; the results still land",
  async (db) => {
    const t = testApp(db);
    const { tasks } = await setup(t.call, 1);
    const mint = async (name: string) =>
      (await t.call("POST", "/deploy/keys", { name, scopes: ["worker"] })).body as { key: string };
    const a = await mint("a"), b = await mint("b");
    assert.equal(
      (await t.call("POST", "/heartbeat", { worker: "mine", pool: "default", capacity: 0 }, {
        key: a.key,
      })).status,
      200,
    );
    const res = await t.call("POST", "/heartbeat/tasks/complete", {
      results: [{ task: tasks[0].task, lease: tasks[0].lease, output: null }],
      next: { worker: "mine", pool: "default", capacity: 5 },
    }, { key: b.key });
    assert.equal(res.status, 200);
    assert.equal(res.body.results[0].status, 200);
    assert.equal(res.body.next.status, 409);
    assert.equal(res.body.next.code, "worker_name_taken");
    assert.equal(res.body.next.errors[0].path, "worker");
    const [n] = await db.sql<{ n: number }>`
    select count(*)::int as n from edgeflow.tasks where slug = 'b' and status = 'QUEUED'`;
    assert.equal(n.n, 1, "nothing was claimed for the other key's name");
  },
);

dbTest(
  "a bad `next` refuses the whole batch (422 naming the field) and changes nothing",
  async (db) => {
    const { call } = testApp(db);
    const { tasks } = await setup(call, 1);
    const results = [{ task: tasks[0].task, lease: tasks[0].lease, output: null }];
    for (
      const [next, path] of [
        [{ worker: "w", pool: "default", capacity: 0 }, "next.capacity"],
        [{ pool: "default", capacity: 1 }, "next.worker"],
        [{ worker: "w", pool: "default", capacity: 1, handlers: "b" }, "next.handlers"],
        ["soon", "next"],
      ] as const
    ) {
      const res = await call("POST", "/heartbeat/tasks/complete", { results, next });
      assert.equal(res.status, 422, JSON.stringify(next));
      assert.ok(
        res.body.errors.some((e: { path: string }) => e.path === path),
        `${path} in ${JSON.stringify(res.body.errors)}`,
      );
    }
    const [n] = await db.sql<{ n: number }>`
    select count(*)::int as n from edgeflow.tasks where status <> 'RUNNING'`;
    assert.equal(n.n, 0);
  },
);

dbTest(
  "a batch of failures with `next` gets the retry due at once, and other work, in the same call and transaction",
  async (db) => {
    const { call } = testApp(db);
    await registerSteps(call, "flaky0", [{ slug: "x", max_attempts: 2, base_delay: 0 }]);
    await deploy(call, { name: "flaky0", flow: "flaky0" });
    const first = await trigger(call, "flaky0");
    const hb = await call("POST", "/heartbeat", {
      worker: "w",
      pool: "default",
      capacity: 1,
      running: [],
    });
    const [t] = hb.body.tasks as { task: string; lease: string; attempt: number }[];
    const second = await trigger(call, "flaky0");
    const res = await call("POST", "/heartbeat/tasks/fail", {
      results: [{ task: t.task, lease: t.lease, error: { message: "try again" } }],
      next: { worker: "w", pool: "default", capacity: 2 },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.results[0].status, 200);
    assert.equal(res.body.next.long_poll, false);
    const got = res.body.next.tasks as {
      task: string;
      run_id: string;
      attempt: number;
      lease: string;
    }[];
    // The retry (no backoff) and the second run's first attempt: both slots filled.
    assert.deepEqual(
      got.map((x) => [x.run_id, x.attempt]).sort(),
      [[first.run_id, 2], [second.run_id, 1]].sort(),
    );
    // One transaction: the failed attempt and the claims were written together.
    const retry = got.find((x) => x.run_id === first.run_id)!;
    const writers = await db.sql<{ xid: string }>`
      select distinct xmin::text as xid from edgeflow.tasks
       where id in (${t.task}, ${retry.task}) or run_id = ${second.run_id}::uuid`;
    assert.equal(writers.length, 1, JSON.stringify(writers));
    // The retry's lease is current.
    const done = await call("POST", "/heartbeat/tasks/complete", {
      results: [{ task: retry.task, lease: retry.lease, output: "ok" }],
    });
    assert.equal(done.body.results[0].run_status, "COMPLETED");
  },
);

dbTest(
  "failures and their next claim commit durably, and `next` under another key's name is refused in place",
  async (db) => {
    const t = testApp(db);
    const { tasks } = await setup(t.call, 2);
    const setting = await db.sql.begin(async (tx) => {
      const [row] = await tx<{ r: { results: { ok?: boolean }[]; next: { tasks: unknown[] } } }>`
        select edgeflow.fail_tasks_and_claim(
                 ${
        JSON.stringify([{
          task: tasks[0].task,
          lease: tasks[0].lease,
          error: { message: "x" },
          retryable: false,
        }])
      }::text::jsonb,
                 null, true, 'w', 'default', null, 5, 10) as r`;
      assert.equal(row.r.results[0].ok, true);
      assert.deepEqual(row.r.next.tasks, [], "nothing else is queued");
      const [{ s }] = await tx<{ s: string }>`select current_setting('synchronous_commit') as s`;
      return s;
    });
    assert.equal(setting, "on");

    const mint = async (name: string) =>
      (await t.call("POST", "/deploy/keys", { name, scopes: ["worker"] })).body as { key: string };
    const a = await mint("a"), b = await mint("b");
    await t.call("POST", "/heartbeat", { worker: "mine", pool: "default", capacity: 0 }, {
      key: a.key,
    });
    const res = await t.call("POST", "/heartbeat/tasks/fail", {
      results: [{
        task: tasks[1].task,
        lease: tasks[1].lease,
        error: { message: "y", retryable: false },
      }],
      next: { worker: "mine", pool: "default", capacity: 5 },
    }, { key: b.key });
    assert.equal(res.status, 200);
    assert.equal(res.body.results[0].status, 200);
    assert.equal(res.body.results[0].run_status, "FAILED");
    assert.equal(res.body.next.code, "worker_name_taken");
  },
);

dbTest("a bad `next` on a batch of failures is 422 naming it, and changes nothing", async (db) => {
  const { call } = testApp(db);
  const { tasks } = await setup(call, 1);
  const res = await call("POST", "/heartbeat/tasks/fail", {
    results: [{ task: tasks[0].task, lease: tasks[0].lease, error: { message: "z" } }],
    next: { worker: "w", pool: "default", capacity: 0 },
  });
  assert.equal(res.status, 422);
  assert.ok(res.body.errors.some((e: { path: string }) => e.path === "next.capacity"));
  const [n] = await db.sql<{ n: number }>`
    select count(*)::int as n from edgeflow.tasks where status <> 'RUNNING'`;
  assert.equal(n.n, 0);
});
