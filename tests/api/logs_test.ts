// deno-lint-ignore-file no-explicit-any
/** Task logs over HTTP: the fenced append, its bounds, and the JSON and SSE reads. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, testApp } from "../support/app.ts";
import { readSse } from "../ui/support.ts";
import { advanceClock } from "../support/clock.ts";

type Call = ReturnType<typeof testApp>["call"];

/** A one-step flow run, its task claimed: the task id and lease. */
async function claimed(call: Call, steps: unknown[] = [{ slug: "work", max_attempts: 3 }]) {
  assert.equal((await call("POST", "/register", { name: "chatty", steps })).status, 201);
  const run = await call("POST", "/trigger/flows/chatty", {});
  assert.equal(run.status, 201);
  const beat = await call("POST", "/heartbeat", { worker: "w1", pool: "default", capacity: 1 });
  assert.equal(beat.body.tasks.length, 1);
  const t = beat.body.tasks[0];
  return { runId: run.body.run_id as string, task: t.task as string, lease: t.lease as string };
}

const lines = (n: number, from = 0, level = "info", size = 0) =>
  Array.from({ length: n }, (_, i) => ({
    level,
    message: size ? "x".repeat(size) : `line ${from + i}`,
    fields: size ? undefined : { i: from + i },
  }));

dbTest("a task's lines are stored under its lease and read back in order", async (db) => {
  const { call } = testApp(db);
  const { runId, task, lease } = await claimed(call);
  const sent = await call("POST", `/heartbeat/tasks/${task}/logs`, {
    lease,
    lines: [
      { level: "debug", message: "connecting", fields: { host: "db" } },
      { level: "info", message: "loaded", fields: { rows: 3 } },
      { level: "warn", message: "slow" },
      { level: "error", message: "retrying" },
    ],
  });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  assert.deepEqual(sent.body, { accepted: 4, dropped: 0, dropped_total: 0, lines_total: 4 });

  const all = await call("GET", `/trigger/runs/${runId}/logs`);
  assert.equal(all.status, 200);
  assert.deepEqual(all.body.logs.map((l: any) => [l.level, l.message]), [
    ["debug", "connecting"],
    ["info", "loaded"],
    ["warn", "slow"],
    ["error", "retrying"],
  ]);
  const first = all.body.logs[0];
  assert.equal(first.step, "work");
  assert.equal(first.task, task);
  assert.equal(first.attempt, 1);
  assert.deepEqual(first.fields, { host: "db" });
  assert.match(first.at, /^\d{4}-\d\d-\d\dT.*Z$/);
  assert.equal(all.body.last_id, all.body.logs[3].id);
  assert.deepEqual(all.body.dropped, []);

  const warn = await call("GET", `/trigger/runs/${runId}/logs?level=warn`);
  assert.deepEqual(warn.body.logs.map((l: any) => l.message), ["slow", "retrying"]);
  const after = await call("GET", `/trigger/runs/${runId}/logs?after=${all.body.logs[1].id}`);
  assert.deepEqual(after.body.logs.map((l: any) => l.message), ["slow", "retrying"]);
  const other = await call("GET", `/trigger/runs/${runId}/logs?step=nope`);
  assert.deepEqual(other.body.logs, []);
  const byTask = await call("GET", `/trigger/runs/${runId}/logs?task=${task}&limit=1`);
  assert.deepEqual(byTask.body.logs.map((l: any) => l.message), ["connecting"]);
});

dbTest("a stale lease's lines are refused and nothing is stored", async (db) => {
  const { call } = testApp(db);
  const { runId, task, lease } = await claimed(call);
  // The first attempt fails; the second claim gets a new lease.
  const fail = await call("POST", `/heartbeat/tasks/${task}/fail`, {
    lease,
    error: { message: "boom" },
  });
  assert.equal(fail.status, 200);
  await advanceClock(db.sql, 120); // past the retry's backoff
  const beat = await call("POST", "/heartbeat", { worker: "w2", pool: "default", capacity: 1 });
  assert.equal(beat.body.tasks.length, 1);
  const second = beat.body.tasks[0].lease;
  assert.notEqual(second, lease);

  const stale = await call("POST", `/heartbeat/tasks/${task}/logs`, { lease, lines: lines(3) });
  assert.equal(stale.status, 409);
  assert.equal(stale.body.code, "stale_lease");
  const foreign = await call("POST", `/heartbeat/tasks/${task}/logs`, {
    lease: "not-a-lease",
    lines: lines(1),
  });
  assert.equal(foreign.status, 409);
  const fresh = await call("POST", `/heartbeat/tasks/${task}/logs`, {
    lease: second,
    lines: lines(1),
  });
  assert.equal(fresh.status, 200);
  const read = await call("GET", `/trigger/runs/${runId}/logs`);
  assert.deepEqual(read.body.logs.map((l: any) => [l.message, l.attempt]), [["line 0", 2]]);

  // Once the task completed, its lease takes no more lines either.
  assert.equal(
    (await call("POST", `/heartbeat/tasks/${task}/complete`, { lease: second })).status,
    200,
  );
  const late = await call("POST", `/heartbeat/tasks/${task}/logs`, {
    lease: second,
    lines: lines(1),
  });
  assert.equal(late.status, 409);
  assert.equal((await call("GET", `/trigger/runs/${runId}/logs`)).body.logs.length, 1);
});

dbTest("bad log calls are 4xx problems naming the field", async (db) => {
  const { call } = testApp(db);
  const { runId, task, lease } = await claimed(call);
  const level = await call("POST", `/heartbeat/tasks/${task}/logs`, {
    lease,
    lines: [{ level: "loud", message: "x" }],
  });
  assert.equal(level.status, 422);
  assert.equal(level.body.errors[0].path, "lines[0].level");
  const tooMany = await call("POST", `/heartbeat/tasks/${task}/logs`, {
    lease,
    lines: lines(1001),
  });
  assert.equal(tooMany.status, 422);
  assert.equal(tooMany.body.errors[0].path, "lines");
  const unknown = await call("POST", `/heartbeat/tasks/${crypto.randomUUID()}/logs`, {
    lease,
    lines: [],
  });
  assert.equal(unknown.status, 404);
  for (
    const [query, path] of [["level=loud", "level"], ["after=-1", "after"], ["task=x", "task"]]
  ) {
    const res = await call("GET", `/trigger/runs/${runId}/logs?${query}`);
    assert.equal(res.status, 422, query);
    assert.equal(res.body.errors[0].path, path);
  }
  const resume = await call("GET", `/trigger/runs/${runId}/logs`, undefined, {
    headers: { "last-event-id": "abc" },
  });
  assert.equal(resume.status, 422);
  assert.equal(resume.body.errors[0].path, "Last-Event-ID");
  assert.equal((await call("GET", `/trigger/runs/${crypto.randomUUID()}/logs`)).status, 404);
  const noWorkerScope = await call("POST", "/deploy/keys", { name: "t", scopes: ["trigger"] });
  const refused = await call("POST", `/heartbeat/tasks/${task}/logs`, { lease, lines: lines(1) }, {
    key: noWorkerScope.body.key,
  });
  assert.equal(refused.status, 403);
  assert.equal((await call("GET", `/trigger/runs/${runId}/logs`)).body.logs.length, 0);
});

dbTest("lines over a task's byte bound are dropped and counted, never silently", async (db) => {
  const { call } = testApp(db);
  const { runId, task, lease } = await claimed(call);
  // 8 KiB lines: the 4 MiB bound holds 512 of them; 6 x 100 are sent.
  let accepted = 0, dropped = 0;
  for (let i = 0; i < 6; i++) {
    const res = await call("POST", `/heartbeat/tasks/${task}/logs`, {
      lease,
      lines: lines(100, 0, "info", 8192),
      dropped: i === 5 ? 7 : 0, // the worker's own buffer overflowed too
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    accepted += res.body.accepted;
    dropped += res.body.dropped;
  }
  assert.equal(accepted, 512);
  assert.equal(dropped, 88 + 7);
  const read = await call("GET", `/trigger/runs/${runId}/logs?limit=1`);
  assert.deepEqual(read.body.dropped, [{ task, step: "work", dropped: 95 }]);
  const [{ n }] = await db.sql<{ n: number }>`
    select count(*)::int as n from edgeflow.task_logs where task_id = ${task}::uuid`;
  assert.equal(n, 512);
  // A message over 8 KiB is cut, not refused.
  const [{ task: t2, lease: l2 }] = [await claimedSecond(call)];
  const long = await call("POST", `/heartbeat/tasks/${t2}/logs`, {
    lease: l2,
    lines: [{ level: "info", message: "y".repeat(20_000) }],
  });
  assert.equal(long.body.accepted, 1);
  const [{ len }] = await db.sql<{ len: number }>`
    select length(message)::int as len from edgeflow.task_logs where task_id = ${t2}::uuid`;
  assert.equal(len, 8192);
});

/** A second run of the flow, claimed. */
async function claimedSecond(call: Call) {
  const run = await call("POST", "/trigger/flows/chatty", {});
  assert.equal(run.status, 201);
  const beat = await call("POST", "/heartbeat", { worker: "w9", pool: "default", capacity: 1 });
  return { task: beat.body.tasks[0].task as string, lease: beat.body.tasks[0].lease as string };
}

dbTest("the SSE stream follows a run's lines live and resumes after Last-Event-ID", async (db) => {
  const { app, call } = testApp(db);
  const { runId, task, lease } = await claimed(call);
  const post = (batch: unknown[]) =>
    call("POST", `/heartbeat/tasks/${task}/logs`, { lease, lines: batch });
  assert.equal((await post(lines(2))).status, 200);

  const live = await app.request(`/trigger/runs/${runId}/logs`, {
    headers: { authorization: `Bearer ${ADMIN_KEY}`, accept: "text/event-stream" },
  });
  assert.equal(live.headers.get("content-type")?.split(";")[0], "text/event-stream");
  let seen = 0;
  let more: Promise<unknown> | undefined;
  const read = readSse(live, (m) => {
    if (m.event !== "message") return;
    // After the first two, the worker logs more and finishes while we listen.
    if (++seen === 2) {
      more = post(lines(3, 2)).then(() =>
        call("POST", `/heartbeat/tasks/${task}/complete`, { lease })
      );
    }
  });
  const { messages } = await read;
  await more;
  const data = messages.filter((m) => m.event === "message").map((m) => JSON.parse(m.data));
  assert.deepEqual(data.map((l) => l.message), ["line 0", "line 1", "line 2", "line 3", "line 4"]);
  assert.deepEqual(
    messages.filter((m) => m.event === "message").map((m) => Number(m.id)),
    data.map((l) => l.id),
  );
  const end = messages.at(-1)!;
  assert.equal(end.event, "end");
  assert.equal(JSON.parse(end.data).status, "COMPLETED");

  // Reconnecting after the third line gets the rest, once.
  const resumed = await app.request(`/trigger/runs/${runId}/logs`, {
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      accept: "text/event-stream",
      "last-event-id": String(data[2].id),
    },
  });
  const again = (await readSse(resumed)).messages.filter((m) => m.event === "message");
  assert.deepEqual(again.map((m) => JSON.parse(m.data).message), ["line 3", "line 4"]);
});

dbTest("a task's log rate is a token bucket: a burst of 1,000, then 100 lines/s", async (db) => {
  const { call } = testApp(db);
  const { runId, task, lease } = await claimed(call);
  const append = (n: number) =>
    db.sql<{ r: any }>`select edgeflow.append_task_logs(${task}::uuid, ${lease}::uuid,
                         ${JSON.stringify(lines(n))}::text::jsonb, 0) as r`;
  // One transaction reads one edgeflow.now(): no time passes between the two calls.
  const [first, second] = await db.sql.begin(async (tx) => {
    const a = await tx<{ r: any }>`select edgeflow.append_task_logs(${task}::uuid, ${lease}::uuid,
                                    ${JSON.stringify(lines(1000))}::text::jsonb, 0) as r`;
    const b = await tx<{ r: any }>`select edgeflow.append_task_logs(${task}::uuid, ${lease}::uuid,
                                    ${JSON.stringify(lines(500))}::text::jsonb, 0) as r`;
    return [a[0].r, b[0].r];
  });
  assert.equal(first.accepted, 1000);
  assert.deepEqual(second, { accepted: 0, dropped: 500, dropped_total: 500, lines_total: 1000 });
  // Two seconds later at least 200 lines fit again.
  await advanceClock(db.sql, 2);
  const [{ r: later }] = await append(150);
  assert.equal(later.accepted, 150);
  assert.equal(later.dropped_total, 500);
  const read = await call("GET", `/trigger/runs/${runId}/logs?limit=1`);
  assert.deepEqual(read.body.dropped, [{ task, step: "work", dropped: 500 }]);
});

dbTest("a reader following with after= misses no line while many tasks log at once", async (db) => {
  const { call } = testApp(db);
  const steps = [{ slug: "list" }, { slug: "each", depends_on: ["list"], map: "list" }];
  const { runId, task, lease } = await claimed(call, steps);
  await call("POST", `/heartbeat/tasks/${task}/complete`, { lease, output: [1, 2, 3, 4, 5, 6] });
  const beat = await call("POST", "/heartbeat", { worker: "w2", pool: "default", capacity: 6 });
  assert.equal(beat.body.tasks.length, 6);
  const seen = new Set<number>();
  let after = 0, writing = true;
  // The reader polls as a client resuming with after=<last_id> would, while the writers run.
  const reader = (async () => {
    while (writing) {
      const page = await call("GET", `/trigger/runs/${runId}/logs?after=${after}&limit=1000`);
      for (const l of page.body.logs) seen.add(l.id);
      after = page.body.last_id;
    }
  })();
  await Promise.all(beat.body.tasks.map(async (t: any) => {
    for (let i = 0; i < 20; i++) {
      const res = await call("POST", `/heartbeat/tasks/${t.task}/logs`, {
        lease: t.lease,
        lines: lines(5, i * 5),
      });
      assert.equal(res.status, 200);
    }
  }));
  writing = false;
  await reader;
  const rest = await call("GET", `/trigger/runs/${runId}/logs?after=${after}&limit=1000`);
  for (const l of rest.body.logs) seen.add(l.id);
  const all = await call("GET", `/trigger/runs/${runId}/logs?limit=1000`);
  assert.equal(all.body.logs.length, 600);
  // Everything was read exactly through resumption: no line fell behind a cursor.
  assert.equal(seen.size, 600);
});
