// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, sessionCookie, testApp } from "../support/app.ts";
import { driveRun, ETL, readSse } from "../ui/support.ts";
import { advanceClock } from "../support/clock.ts";

async function setup(db: Parameters<Parameters<typeof dbTest>[1]>[0]) {
  const t = testApp(db);
  assert.equal((await t.call("POST", "/register", ETL)).status, 201);
  assert.equal((await t.call("POST", "/deploy", { name: "etl-nightly", flow: "etl" })).status, 201);
  const trig = await t.call("POST", "/trigger/etl-nightly", { parameters: { day: "d1" } });
  assert.equal(trig.status, 201);
  return { ...t, runId: trig.body.run_id as string };
}

function sse(app: ReturnType<typeof testApp>["app"], path: string, headers = {}) {
  return app.request(path, {
    headers: { authorization: `Bearer ${ADMIN_KEY}`, accept: "text/event-stream", ...headers },
  });
}

const transitions = (events: any[]) =>
  events.map((e) => `${e.kind}:${e.step ?? ""}:${e.from ?? "∅"}→${e.to}`);

dbTest("every run, step and task state change of a run is recorded in order", async (db) => {
  const { call, runId } = await setup(db);
  await driveRun(call);
  const res = await call("GET", `/trigger/runs/${runId}/events`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.status, "COMPLETED");
  const events = res.body.events;
  assert.deepEqual(transitions(events.filter((e: any) => e.kind !== "task")), [
    "run::∅→PENDING",
    "step:extract:PENDING→QUEUED",
    "run::PENDING→RUNNING",
    "step:extract:QUEUED→RUNNING",
    "step:extract:RUNNING→COMPLETED",
    "step:split:PENDING→QUEUED",
    "step:split:QUEUED→RUNNING",
    "step:split:RUNNING→COMPLETED",
    "step:load_part:PENDING→QUEUED",
    "step:load_part:QUEUED→RUNNING",
    "step:load_part:RUNNING→COMPLETED",
    "step:report:PENDING→QUEUED",
    "step:report:QUEUED→RUNNING",
    "step:report:RUNNING→COMPLETED",
    "run::RUNNING→COMPLETED",
  ]);
  const tasks = events.filter((e: any) => e.kind === "task");
  assert.equal(tasks.length, 10, "5 tasks (2 map elements), claimed and completed each");
  assert.ok(tasks.every((e: any) => e.attempt === 1 && e.task && e.run_id === runId));
  const ids = events.map((e: any) => e.id);
  assert.deepEqual(ids, [...ids].sort((a: number, b: number) => a - b));
  assert.equal(res.body.last_id, ids[ids.length - 1]);
  assert.ok(events.every((e: any) => /^\d{4}-\d\d-\d\dT.*Z$/.test(e.at)));

  const page = await call("GET", `/trigger/runs/${runId}/events?after=${ids[3]}&limit=2`);
  assert.deepEqual(page.body.events.map((e: any) => e.id), [ids[4], ids[5]]);
  assert.equal(page.body.last_id, ids[5]);
});

dbTest(
  "near the live edge last_id stops short, so a concurrent late event is not missed",
  async (db) => {
    const { call, runId } = await setup(db);
    const first = await call("GET", `/trigger/runs/${runId}/events`);
    assert.equal(first.body.status, "PENDING");
    assert.ok(first.body.events.length >= 2);
    assert.equal(first.body.last_id, 0, "events younger than 5 s are read again");
    const again = await call("GET", `/trigger/runs/${runId}/events?after=${first.body.last_id}`);
    assert.deepEqual(
      again.body.events.map((e: any) => e.id),
      first.body.events.map((e: any) => e.id),
    );
    await db.sql`update edgeflow.events set at = at - interval '1 minute'`;
    const settled = await call("GET", `/trigger/runs/${runId}/events`);
    assert.equal(settled.body.last_id, settled.body.events.at(-1).id);
  },
);

dbTest("event times follow the engine's clock, and so does the live edge", async (db) => {
  const { call, runId } = await setup(db);
  const shifted = await advanceClock(db.sql, 3 * 3600);
  await driveRun(call);
  const { body } = await call("GET", `/trigger/runs/${runId}/events`);
  const started = body.events.find((e: any) => e.kind === "run" && e.to === "RUNNING");
  const done = body.events.find((e: any) => e.kind === "run" && e.to === "COMPLETED");
  assert.ok(new Date(started.at) >= shifted, `${started.at} is on the moved clock (${shifted})`);
  const [run] = await db.sql<{ started_at: string; ended_at: string }>`
    select edgeflow.iso(started_at) as started_at, edgeflow.iso(ended_at) as ended_at
      from edgeflow.runs where id = ${runId}::uuid`;
  assert.equal(started.at, run.started_at, "the event's time is the run's own start");
  assert.equal(done.at, run.ended_at);

  // A second run, not final: its fresh events (hours ahead of the wall clock)
  // are read again until the engine's clock is 5 s past them.
  const trig = await call("POST", "/trigger/etl-nightly", { parameters: { day: "d2" } });
  const live = await call("GET", `/trigger/runs/${trig.body.run_id}/events`);
  assert.equal(live.body.status, "PENDING");
  assert.equal(
    live.body.last_id,
    live.body.events[0].id - 1,
    "events younger than 5 s are read again",
  );
  await advanceClock(db.sql, 6);
  const settled = await call("GET", `/trigger/runs/${trig.body.run_id}/events`);
  assert.equal(settled.body.last_id, settled.body.events.at(-1).id);
});

dbTest("a failed attempt records its error; a final failure fails step and run", async (db) => {
  const { call, runId } = await setup(db);
  for (let attempt = 1; attempt <= 3; attempt++) {
    const hb = await call("POST", "/heartbeat", { worker: "w", pool: "default", capacity: 1 });
    const [t] = hb.body.tasks;
    assert.ok(t, `attempt ${attempt} was claimed`);
    await call("POST", `/heartbeat/tasks/${t.task}/fail`, {
      lease: t.lease,
      error: { message: `boom ${attempt}`, retryable: attempt < 2 },
    });
    if (attempt === 1) {
      // Backoff is base_delay (1 s) * 2^0: move the engine's clock past it.
      await advanceClock(db.sql, 1.1);
    }
    if (attempt === 2) break;
  }
  const { body } = await call("GET", `/trigger/runs/${runId}/events`);
  const task = body.events.filter((e: any) => e.kind === "task");
  assert.deepEqual(task.map((e: any) => `${e.attempt}:${e.from}→${e.to}:${e.error?.message}`), [
    "1:QUEUED→RUNNING:undefined",
    "1:RUNNING→QUEUED:boom 1",
    "2:QUEUED→RUNNING:undefined",
    "2:RUNNING→FAILED:boom 2",
  ]);
  const last = body.events.slice(-5).map((e: any) => `${e.kind}:${e.step ?? ""}:${e.to}`);
  assert.ok(last.includes("step:extract:FAILED"));
  assert.equal(last.filter((t: string) => t.endsWith(":CANCELLED")).length, 3);
  const run = body.events.find((e: any) => e.kind === "run" && e.to === "FAILED");
  assert.equal(run.error.message, "boom 2");
  assert.equal(body.status, "FAILED");
});

dbTest("updates that leave the status alone record nothing", async (db) => {
  const { call, runId } = await setup(db);
  const hb = await call("POST", "/heartbeat", { worker: "w", pool: "default", capacity: 1 });
  const before = (await call("GET", `/trigger/runs/${runId}/events`)).body.events.length;
  await db.sql`update edgeflow.tasks set lease_expires_at = now() + interval '5 seconds'`;
  await call("POST", "/heartbeat", {
    worker: "w",
    pool: "default",
    capacity: 0,
    running: hb.body.tasks.map((t: any) => ({ task: t.task, lease: t.lease })),
  });
  await db.sql`update edgeflow.runs set status = status`;
  assert.equal((await call("GET", `/trigger/runs/${runId}/events`)).body.events.length, before);
});

dbTest("SSE sends every event with its id, then `end`; Last-Event-ID resumes", async (db) => {
  const { app, call, runId } = await setup(db);
  await driveRun(call);
  const res = await sse(app, `/trigger/runs/${runId}/events`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const all = await readSse(res);
  assert.equal(all.retry, 1000);
  const data = all.messages.filter((m) => m.event === "message");
  assert.equal(data.length, 25);
  assert.ok(data.every((m) => m.id === String(JSON.parse(m.data).id)));
  const end = all.messages.at(-1)!;
  assert.equal(end.event, "end");
  assert.equal(JSON.parse(end.data).status, "COMPLETED");

  const resumed = await readSse(
    await sse(app, `/trigger/runs/${runId}/events`, { "last-event-id": data[20].id }),
  );
  assert.deepEqual(resumed.messages.map((m) => m.id ?? m.event), [
    ...data.slice(21).map((m) => m.id),
    "end",
  ]);
});

dbTest("SSE follows a run live until it completes", async (db) => {
  const { app, call, runId } = await setup(db);
  const seen: string[] = [];
  const reading = readSse(await sse(app, `/trigger/runs/${runId}/events`), (m) => {
    if (m.event === "message") seen.push(JSON.parse(m.data).to);
  });
  await new Promise((r) => setTimeout(r, 400)); // the stream is polling by now
  await driveRun(call, 20);
  const { messages } = await reading;
  assert.equal(messages.at(-1)!.event, "end");
  assert.equal(seen.length, 25);
  assert.equal(seen.at(-1), "COMPLETED");
});

dbTest(
  "events refuse bad ids, unknown runs and missing keys; read keys and cookies pass",
  async (db) => {
    const { call, app, runId } = await setup(db);
    const bad = await call("GET", `/trigger/runs/${runId}/events?after=-1`);
    assert.equal(bad.status, 422);
    assert.equal(bad.body.errors[0].path, "after");
    const badHeader = await call("GET", `/trigger/runs/${runId}/events`, undefined, {
      headers: { "last-event-id": "x'; drop table edgeflow.events; --" },
    });
    assert.equal(badHeader.status, 422);
    assert.equal((await call("GET", `/trigger/runs/${runId}/events?limit=0`)).status, 422);
    assert.equal(
      (await call("GET", `/trigger/runs/${crypto.randomUUID()}/events`)).body.code,
      "not_found",
    );
    assert.equal((await call("GET", `/trigger/runs/nope/events`)).status, 404);
    assert.equal(
      (await call("GET", `/trigger/runs/${runId}/events`, undefined, { key: null })).status,
      401,
    );

    const key = await call("POST", "/deploy/keys", { name: "viewer", scopes: ["read"] });
    const viewer = await call("GET", `/trigger/runs/${runId}/events`, undefined, {
      key: key.body.key,
    });
    assert.equal(viewer.status, 200);
    const byCookie = await app.request(`/trigger/runs/${runId}/events`, {
      headers: { cookie: await sessionCookie(app, key.body.key) },
    });
    assert.equal(byCookie.status, 200);
    assert.ok((await byCookie.json()).events.length > 0);
  },
);
