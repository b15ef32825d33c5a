/**
 * Result requests grouped into one engine call (shared/app/result_groups.ts,
 * edgeflow.results_and_claims): requests that arrive while the process's
 * result calls are busy go together, and each is answered as its own call
 * would answer it; the claims of a group are shared, each task handed to the
 * worker that receives it.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { deploy, registerSteps, trigger } from "../limits/helpers.ts";
import {
  ResultGroups,
  type ResultReply,
  type ResultRequest,
} from "../../shared/app/result_groups.ts";
import type { GroupClaim } from "../../shared/engine/batch.ts";
import type { Sql } from "../../shared/db/sql.ts";

const FORGED = "00000000-0000-4000-8000-000000000000";
type Claimed = { task: string; lease: string; run_id: string; step: string };

async function setup(call: ReturnType<typeof testApp>["call"], runs: number) {
  await registerSteps(call, "grouped", [
    { slug: "a", max_attempts: 2 },
    { slug: "b", depends_on: ["a"] },
  ]);
  await deploy(call, { name: "grouped", flow: "grouped" });
  for (let i = 0; i < runs; i++) await trigger(call, "grouped");
}

/** `n` tasks claimed by `worker` through a heartbeat. */
async function claim(call: ReturnType<typeof testApp>["call"], worker: string, n: number) {
  const hb = await call("POST", "/heartbeat", {
    worker,
    pool: "default",
    capacity: n,
    running: [],
  });
  assert.equal(hb.status, 200);
  assert.equal(hb.body.tasks.length, n);
  return hb.body.tasks as Claimed[];
}

function next(worker: string, capacity: number): GroupClaim {
  return {
    worker,
    pool: "default",
    handlers: null,
    capacity,
    caller: { id: null, admin: true },
    heartbeatSeconds: 10,
  };
}

const done = (t: Claimed, output: unknown = { from: t.step }) => ({
  task: t.task,
  lease: t.lease,
  output,
});

dbTest(
  "requests sent while a result call is busy go in one call, each answered as alone",
  async (db) => {
    const { call } = testApp(db);
    await setup(call, 6);
    const w1 = await claim(call, "w1", 2);
    const w2 = await claim(call, "w2", 2);
    const w3 = await claim(call, "w3", 2);

    const groups = new ResultGroups(db.sql, 1);
    const requests: ResultRequest[] = [
      // Alone: the call is free.
      { kind: "complete", entries: [done(w1[0])], claim: next("w1", 1) },
      // These three wait for it, then go together.
      {
        kind: "complete",
        entries: [done(w1[1]), { ...done(w2[0]), lease: FORGED }],
        claim: next("w2", 2),
      },
      { kind: "fail", entries: [{ ...done(w3[0]), error: { message: "again" }, retryable: true }] },
      { kind: "complete", entries: [done(w3[1]), done(w1[1])], claim: next("w3", 3) },
    ];
    const replies: ResultReply[] = await Promise.all(requests.map((r) => groups.send(r)));
    assert.deepEqual(groups.counts, { calls: 2, requests: 4 });

    const status = (r: ResultReply) => r.outcomes.map((o) => "ok" in o ? "ok" : o.error);
    assert.deepEqual(status(replies[0]), ["ok"]);
    assert.deepEqual(status(replies[1]), ["ok", "stale_lease"]);
    assert.deepEqual(status(replies[2]), ["ok"]);
    assert.equal((replies[2].outcomes[0] as { attempt?: number }).attempt, 1);
    // w1[1] was completed by the second request: the fourth sees what it left.
    assert.deepEqual(status(replies[3]), ["ok", "stale_lease"]);
    assert.equal(replies[2].next, undefined);

    // Each task in the database as its request left it.
    const rows = await db.sql<{ id: string; status: string; output: unknown }>`
    select id::text, status, output from edgeflow.tasks where slug = 'a'`;
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const t of [w1[0], w1[1], w3[1]]) {
      assert.equal(byId.get(t.task)!.status, "COMPLETED");
      assert.deepEqual(byId.get(t.task)!.output, { from: "a" });
    }
    assert.equal(byId.get(w2[0].task)!.status, "RUNNING");

    // The claims: the first alone, the other two shared one claim, in order,
    // and every task is leased to the worker it went to.
    const got = replies.flatMap((r, i) =>
      r.next && !("error" in r.next) ? r.next.tasks.map((t) => ({ t, i })) : []
    );
    const names = ["w1", "w2", undefined, "w3"];
    assert.equal(new Set(got.map((g) => g.t.task)).size, got.length);
    for (const r of [replies[0], replies[1], replies[3]]) assert.ok(r.next && !("error" in r.next));
    const leased = await db.sql<{ id: string; worker: string; lease: string }>`
    select id::text, worker, lease::text from edgeflow.tasks where status = 'RUNNING'`;
    const lease = new Map(leased.map((r) => [r.id, r]));
    for (const { t, i } of got) {
      assert.equal(lease.get(t.task)?.worker, names[i], `${t.task} went to ${names[i]}`);
      assert.equal(lease.get(t.task)?.lease, t.lease);
    }
    // Two b's became ready in the group: the first claim of the group (w2, room
    // 2) took both; nothing claimable was left while a claim had room.
    assert.equal(got.filter((g) => g.i === 0).length, 1);
    assert.equal(got.filter((g) => g.i === 1).length, 2);
    const [{ left }] = await db.sql<{ left: number }>`
    select count(*)::int as left from edgeflow.tasks
     where status = 'QUEUED' and available_at <= edgeflow.now()`;
    assert.equal(left, 0);

    // The workers' rows as a heartbeat leaves them (a nonzero capacity is as
    // of the last second: edgeflow._beat_row).
    const workers = await db.sql<{ name: string; capacity: number }>`
      select name, capacity from edgeflow.workers order by name`;
    assert.deepEqual(workers.map((w) => [w.name, w.capacity > 0]), [
      ["w1", true],
      ["w2", true],
      ["w3", true],
    ]);
  },
);

dbTest("a request with nothing to send makes no call", async (db) => {
  const groups = new ResultGroups(db.sql, 1);
  const reply = await groups.send({ kind: "complete", entries: [] });
  assert.deepEqual(reply, { outcomes: [] });
  assert.deepEqual(groups.counts, { calls: 0, requests: 0 });
});

dbTest("a group's call that fails sends each of its requests alone", async (db) => {
  const { call } = testApp(db);
  await setup(call, 3);
  const tasks = await claim(call, "w", 3);
  // The database refuses the grouped statement once (as a deadlock would end it).
  let refused = 0;
  const sql = ((strings: TemplateStringsArray, ...values: unknown[]) => {
    if (strings.join("?").includes("results_and_claims") && refused++ === 0) {
      return Promise.reject(new Error("deadlock detected"));
    }
    return db.sql(strings, ...values);
  }) as Sql;
  Object.assign(sql, { begin: db.sql.begin.bind(db.sql), end: db.sql.end.bind(db.sql) });
  const groups = new ResultGroups(sql, 1);
  const replies = await Promise.all([
    groups.send({ kind: "complete", entries: [done(tasks[0])] }),
    groups.send({ kind: "complete", entries: [done(tasks[1])], claim: next("w", 5) }),
    groups.send({ kind: "complete", entries: [{ ...done(tasks[2]), lease: FORGED }] }),
  ]);
  assert.equal(refused, 1);
  assert.deepEqual(groups.counts, { calls: 4, requests: 3 });
  assert.ok("ok" in replies[0].outcomes[0]);
  assert.ok("ok" in replies[1].outcomes[0]);
  assert.equal((replies[2].outcomes[0] as { error?: string }).error, "stale_lease");
  const n = replies[1].next;
  assert.ok(n && !("error" in n));
  assert.deepEqual(n.tasks.map((t) => t.step).sort(), ["b", "b"]);
});

dbTest(
  "a worker name another key owns is refused in a group, the others still claim",
  async (db) => {
    const { call } = testApp(db);
    await setup(call, 2);
    const [t1, t2] = await claim(call, "mine", 2);
    const owner = crypto.randomUUID();
    await db
      .sql`insert into edgeflow.worker_owners (worker, key_id) values ('theirs', ${owner}::uuid)`;
    const groups = new ResultGroups(db.sql, 1);
    const stranger = { ...next("theirs", 2), caller: { id: crypto.randomUUID(), admin: false } };
    const replies = await Promise.all([
      groups.send({ kind: "complete", entries: [done(t1)] }),
      groups.send({ kind: "complete", entries: [done(t2)], claim: stranger }),
      groups.send({ kind: "complete", entries: [], claim: next("mine", 2) }),
    ]);
    assert.deepEqual(groups.counts, { calls: 2, requests: 3 });
    assert.ok("ok" in replies[1].outcomes[0], "the results are still accepted");
    assert.deepEqual(replies[1].next, { error: "worker_name_taken" });
    const mine = replies[2].next;
    assert.ok(mine && !("error" in mine));
    assert.equal(mine.tasks.length, 2);
    const [{ n }] = await db.sql<{ n: number }>`
    select count(*)::int as n from edgeflow.workers where name = 'theirs'`;
    assert.equal(n, 0);
  },
);

dbTest("over HTTP, concurrent result requests are each answered in place", async (db) => {
  const { call } = testApp(db, { resultCalls: 1 });
  await setup(call, 8);
  const held = await Promise.all(["h1", "h2", "h3", "h4"].map((w) => claim(call, w, 2)));
  const answers = await Promise.all(
    held.map((tasks, i) =>
      call("POST", "/heartbeat/tasks/complete", {
        results: [done(tasks[0]), { ...done(tasks[1]), lease: i === 2 ? FORGED : tasks[1].lease }],
        next: { worker: `h${i + 1}`, pool: "default", capacity: 2 },
      })
    ),
  );
  for (const [i, a] of answers.entries()) {
    assert.equal(a.status, 200);
    assert.deepEqual(
      a.body.results.map((r: { status: number }) => r.status),
      i === 2 ? [200, 409] : [200, 200],
    );
    assert.equal(a.body.next.long_poll, false);
  }
  const claimed = answers.flatMap((a, i) =>
    a.body.next.tasks.map((t: Claimed) => ({ task: t.task, worker: `h${i + 1}` }))
  );
  assert.equal(claimed.length, 7, "the seven b's made ready");
  const rows = await db.sql<{ id: string; worker: string }>`
    select id::text, worker from edgeflow.tasks where slug = 'b' and status = 'RUNNING'`;
  assert.deepEqual(
    new Map(rows.map((r) => [r.id, r.worker])),
    new Map(claimed.map((c) => [c.task, c.worker])),
  );
  const metrics = await call("GET", "/metrics");
  const count = (name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(metrics.body)![1]);
  assert.equal(count("edgeflow_result_requests_total"), 4);
  assert.ok(count("edgeflow_result_calls_total") <= 4);
});
