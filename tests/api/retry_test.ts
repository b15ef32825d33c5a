// deno-lint-ignore-file no-explicit-any
/** `POST /trigger/runs/:id/retry`: a new attempt of the same run, from failure or from a step. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";

type Call = ReturnType<typeof testApp>["call"];

/** Claims what is queued now: the claimed tasks. */
async function claim(call: Call): Promise<any[]> {
  const beat = await call("POST", "/heartbeat", { worker: "w1", pool: "default", capacity: 20 });
  assert.equal(beat.status, 200, JSON.stringify(beat.body));
  return beat.body.tasks;
}

const complete = (call: Call, t: any, output: unknown) =>
  call("POST", `/heartbeat/tasks/${t.task}/complete`, { lease: t.lease, output });
const fail = (call: Call, t: any) =>
  call("POST", `/heartbeat/tasks/${t.task}/fail`, {
    lease: t.lease,
    error: { message: `${t.step} broke`, retryable: false },
  });

/** Claims and settles until nothing is queued: `outcome` says what each task does. */
/** A result refused (409: the run ended meanwhile) is marked " refused"; `refused` gets the task. */
async function drive(
  call: Call,
  outcome: (t: any) => unknown | Error,
  refused: any[] = [],
): Promise<string[]> {
  const done: string[] = [];
  for (let round = 0; round < 20; round++) {
    const tasks = await claim(call);
    if (!tasks.length) return done;
    for (const t of tasks) {
      const out = outcome(t);
      const res = out instanceof Error ? await fail(call, t) : await complete(call, t, out);
      assert.ok([200, 409].includes(res.status), JSON.stringify(res.body));
      if (res.status === 409) refused.push(t);
      done.push(
        `${t.step}${t.input.item === undefined ? "" : `[${t.input.item}]`}#${t.attempt}` +
          (res.status === 409 ? " refused" : ""),
      );
    }
  }
  throw new Error("the run never ran dry");
}

const CHAIN = {
  name: "chain",
  parameters: { type: "object", properties: { day: { type: "string" } } },
  steps: [
    { slug: "a", max_attempts: 1 },
    { slug: "b", depends_on: ["a"], max_attempts: 1 },
    { slug: "c", depends_on: ["b"], max_attempts: 1 },
  ],
};

async function failedRun(call: Call, failing: string) {
  assert.equal((await call("POST", "/register", CHAIN)).status, 201);
  const run = await call("POST", "/trigger/flows/chain", { parameters: { day: "mon" } });
  const done = await drive(call, (t) => t.step === failing ? new Error() : { from: t.step });
  const r = (await call("GET", `/trigger/runs/${run.body.run_id}`)).body;
  assert.equal(r.status, "FAILED");
  return { runId: run.body.run_id as string, done };
}

dbTest("retry keeps completed steps' outputs and re-runs only what failed", async (db) => {
  const { call } = testApp(db);
  const { runId, done } = await failedRun(call, "b");
  assert.deepEqual(done, ["a#1", "b#1"]);
  const before = (await call("GET", `/trigger/runs/${runId}`)).body;
  assert.deepEqual(before.steps.map((s: any) => s.status), ["COMPLETED", "FAILED", "CANCELLED"]);

  const retry = await call("POST", `/trigger/runs/${runId}/retry`, {});
  assert.equal(retry.status, 202, JSON.stringify(retry.body));
  assert.deepEqual(retry.body, { run_id: runId, status: "PENDING", retries: 1, steps: ["b", "c"] });

  // a is not run again; b's task goes on to its second attempt.
  const again = await drive(call, (t) => ({ from: t.step, deps: t.input.deps }));
  assert.deepEqual(again, ["b#2", "c#1"]);
  const after = (await call("GET", `/trigger/runs/${runId}`)).body;
  assert.equal(after.status, "COMPLETED");
  assert.equal(after.retries, 1);
  assert.equal(after.error, null);
  assert.deepEqual(after.steps[0].output, { from: "a" });
  assert.deepEqual(after.steps[1].output, { from: "b", deps: { a: { from: "a" } } });
  assert.deepEqual(after.output, {
    c: { from: "c", deps: { b: { from: "b", deps: { a: { from: "a" } } } } },
  });
  // The run's history keeps both attempts: FAILED, then PENDING again.
  const events = (await call("GET", `/trigger/runs/${runId}/events`)).body.events;
  const runStates = events.filter((e: any) => e.kind === "run").map((e: any) => e.to);
  assert.deepEqual(runStates, ["PENDING", "RUNNING", "FAILED", "PENDING", "RUNNING", "COMPLETED"]);
});

dbTest(
  "retry from a step re-runs it and everything downstream, with new parameters",
  async (db) => {
    const { call } = testApp(db);
    const { runId } = await failedRun(call, "c");
    const retry = await call("POST", `/trigger/runs/${runId}/retry`, {
      from_step: "b",
      parameters: { day: "tue" },
    });
    assert.equal(retry.status, 202, JSON.stringify(retry.body));
    assert.deepEqual(retry.body.steps, ["b", "c"]);
    const inputs: Record<string, unknown> = {};
    const again = await drive(call, (t) => {
      inputs[t.step] = t.input.run;
      return { from: t.step };
    });
    // b completed before, but runs again from scratch: a new task, attempt 1.
    assert.deepEqual(again, ["b#1", "c#1"]);
    assert.deepEqual(inputs.b, { day: "tue" });
    const after = (await call("GET", `/trigger/runs/${runId}`)).body;
    assert.equal(after.status, "COMPLETED");
    assert.deepEqual(after.parameters, { day: "tue" });
    const [{ n }] = await db.sql<{ n: number }>`
    select count(*)::int as n from edgeflow.tasks where run_id = ${runId}::uuid and slug = 'a'
       and attempts = 1`;
    assert.equal(n, 1, "a ran once in all");
  },
);

dbTest("retry of a map step re-queues only its failed tasks", async (db) => {
  const { call } = testApp(db);
  await call("POST", "/register", {
    name: "fan",
    steps: [
      { slug: "list", max_attempts: 1 },
      { slug: "each", depends_on: ["list"], map: "list", max_attempts: 1 },
      { slug: "sum", depends_on: ["each"], max_attempts: 1 },
    ],
  });
  const run = await call("POST", "/trigger/flows/fan", {});
  const runId = run.body.run_id;
  let broken = true;
  const outcome = (t: any) => {
    if (t.step === "list") return [1, 2, 3];
    if (t.step === "each") return t.input.item === 2 && broken ? new Error() : t.input.item * 10;
    return (t.input.deps.each as number[]).reduce((a, b) => a + b);
  };
  const refused: any[] = [];
  const first = await drive(call, outcome, refused);
  // each[3] was claimed with the others; its result came after the run had failed.
  assert.deepEqual(first, ["list#1", "each[1]#1", "each[2]#1", "each[3]#1 refused"]);
  assert.equal((await call("GET", `/trigger/runs/${runId}`)).body.status, "FAILED");
  broken = false;
  assert.equal((await call("POST", `/trigger/runs/${runId}/retry`)).status, 202);
  // The old lease of each[3] is fenced off: its late result is refused as stale.
  const late = await complete(call, refused[0], 30);
  assert.equal(late.status, 409);
  assert.equal(late.body.code, "stale_lease");
  // each[1] completed and stays done; the other two go on to their second attempt.
  assert.deepEqual(await drive(call, outcome), ["each[2]#2", "each[3]#2", "sum#1"]);
  const after = (await call("GET", `/trigger/runs/${runId}`)).body;
  assert.equal(after.status, "COMPLETED");
  assert.deepEqual(after.output, { sum: 60 });
});

dbTest("a cancelled run can be retried; its queued work is queued again", async (db) => {
  const { call } = testApp(db);
  assert.equal((await call("POST", "/register", CHAIN)).status, 201);
  const run = await call("POST", "/trigger/flows/chain", {});
  const runId = run.body.run_id;
  assert.equal((await call("POST", `/trigger/runs/${runId}/cancel`)).status, 202);
  assert.equal((await call("GET", `/trigger/runs/${runId}`)).body.status, "CANCELLED");
  const retry = await call("POST", `/trigger/runs/${runId}/retry`);
  assert.equal(retry.status, 202, JSON.stringify(retry.body));
  assert.deepEqual(retry.body.steps, ["a", "b", "c"]);
  assert.deepEqual(await drive(call, () => 1), ["a#1", "b#1", "c#1"]);
  assert.equal((await call("GET", `/trigger/runs/${runId}`)).body.status, "COMPLETED");
});

dbTest("bad retries are 4xx problems naming the field and change nothing", async (db) => {
  const { call } = testApp(db);
  const { runId } = await failedRun(call, "b");
  const snapshot = async () =>
    (await db.sql`select status, retries, parameters from edgeflow.runs where id = ${runId}::uuid`)[
      0
    ];
  const before = await snapshot();
  const cases: [unknown, number, string][] = [
    [{ from_step: "nope" }, 422, "from_step"],
    [{ from_step: "not a slug!" }, 422, "from_step"],
    [{ parameters: { day: 5 } }, 422, "parameters.day"],
    [{ parameters: "x" }, 422, "parameters"],
    [{ steps: ["a"] }, 422, ""],
  ];
  for (const [body, status, path] of cases) {
    const res = await call("POST", `/trigger/runs/${runId}/retry`, body);
    assert.equal(res.status, status, JSON.stringify(body));
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    if (path) {
      assert.ok(res.body.errors.some((e: any) => e.path === path), JSON.stringify(res.body));
    }
  }
  assert.deepEqual(await snapshot(), before);
  assert.equal((await call("POST", `/trigger/runs/${crypto.randomUUID()}/retry`)).status, 404);
  assert.equal((await call("POST", `/trigger/runs/not-a-uuid/retry`)).status, 404);

  // Retried once, the run is no longer finished: a second retry is a conflict.
  assert.equal((await call("POST", `/trigger/runs/${runId}/retry`)).status, 202);
  const twice = await call("POST", `/trigger/runs/${runId}/retry`);
  assert.equal(twice.status, 409);
  assert.equal(twice.body.errors[0].path, "status");
  const readOnly = await call("POST", "/deploy/keys", { name: "r", scopes: ["read"] });
  const forbidden = await call("POST", `/trigger/runs/${runId}/retry`, {}, {
    key: readOnly.body.key,
  });
  assert.equal(forbidden.status, 403);
});

dbTest(
  "a retry takes a slot of its deployment's concurrency limit; with none free it is refused",
  async (db) => {
    const { call } = testApp(db);
    assert.equal((await call("POST", "/register", CHAIN)).status, 201);
    const dep = await call("POST", "/deploy", {
      name: "one-at-a-time",
      flow: "chain",
      concurrency_limit: 1,
    });
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
    const first = (await call("POST", "/trigger/one-at-a-time", {})).body.run_id;
    const second = (await call("POST", "/trigger/one-at-a-time", {})).body.run_id;
    // The first run fails at a; its slot goes to the second, which then holds it.
    const [a] = await claim(call);
    assert.equal(a.run_id, first);
    assert.equal((await fail(call, a)).status, 200);
    const [b] = await claim(call);
    assert.equal(b.run_id, second);

    const full = await call("POST", `/trigger/runs/${first}/retry`);
    assert.equal(full.status, 409);
    assert.equal(full.body.errors[0].path, "deployment");
    assert.equal((await call("GET", `/trigger/runs/${first}`)).body.status, "FAILED");

    assert.equal((await fail(call, b)).status, 200); // the second run ends: the slot is free
    assert.equal((await call("POST", `/trigger/runs/${first}/retry`)).status, 202);
    assert.deepEqual(await drive(call, () => 1), ["a#2", "b#1", "c#1"]);
    assert.equal((await call("GET", `/trigger/runs/${first}`)).body.status, "COMPLETED");
  },
);
