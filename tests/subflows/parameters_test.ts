// deno-lint-ignore-file no-explicit-any
/**
 * A deployment step hands data to its subflow (issue 11 item 2): the step's
 * `parameters` template, checked at registration, resolved when the step
 * starts, the result validated against the child flow's full JSON Schema.
 * Driven end to end through the HTTP API (trigger, the worker protocol).
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { type TestApp, testApp } from "../support/app.ts";
import { run, step } from "./helpers.ts";

/** The child: sums rows of integers; its schema is strict and nested. */
const CHILD = {
  name: "summer",
  parameters: {
    type: "object",
    properties: {
      rows: { type: "array", items: { type: "integer" }, minItems: 1 },
      region: { type: "string", enum: ["eu", "us"] },
      label: { type: "string" },
    },
    required: ["rows", "region"],
    additionalProperties: false,
  },
  steps: [{ slug: "sum", max_attempts: 1 }],
};

/** The main flow: fetch → process (the child, fed by deps.fetch and run.region) → store. */
const MAIN = {
  name: "pipeline",
  steps: [
    { slug: "fetch" },
    {
      slug: "process",
      deployment: "summer-dep",
      depends_on: ["fetch"],
      parameters: {
        rows: "{{ deps.fetch/rows }}",
        region: "{{ run.region }}",
        label: "{{ deps.fetch/rows/0 }} and more, for {{ run.region }}",
      },
    },
    { slug: "store", depends_on: ["process"] },
  ],
};

async function setup(call: TestApp["call"]) {
  for (const name of ["main", "isolated"]) await call("POST", "/deploy/pools", { name });
  assert.equal((await call("POST", "/register", CHILD)).status, 201);
  assert.equal(
    (await call("POST", "/deploy", { name: "summer-dep", flow: "summer", pool: "isolated" }))
      .status,
    201,
  );
  const reg = await call("POST", "/register", MAIN);
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  await call("POST", "/deploy", { name: "pipeline-dep", flow: "pipeline", pool: "main" });
}

/** One task of `pool` through the worker protocol. */
async function claim(call: TestApp["call"], pool: string): Promise<any> {
  const hb = await call("POST", "/heartbeat", { worker: `w-${pool}`, pool, capacity: 1 });
  assert.equal(hb.status, 200, JSON.stringify(hb.body));
  assert.equal(hb.body.tasks.length, 1, `one task in ${pool}`);
  return hb.body.tasks[0];
}

async function complete(call: TestApp["call"], task: any, output: unknown) {
  const res = await call("POST", `/heartbeat/tasks/${task.task}/complete`, {
    lease: task.lease,
    output,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

dbTest(
  "the main flow's fetched data reaches the child and the child's result comes back",
  async (db) => {
    const { call } = testApp(db);
    await setup(call);
    const id = (await call("POST", "/trigger/pipeline-dep", { parameters: { region: "eu" } })).body
      .run_id;
    await complete(call, await claim(call, "main"), { rows: [4, 5, 6] });

    const doc = await run(call, id);
    assert.equal(step(doc, "process").status, "RUNNING");
    const child = await run(call, doc.children[0].run_id);
    assert.deepEqual(child.parameters, {
      rows: [4, 5, 6],
      region: "eu",
      label: "4 and more, for eu",
    }, "a whole reference keeps its JSON type; one inside a string becomes text");
    assert.equal(child.parent.step, "process");

    const sum = await claim(call, "isolated");
    assert.deepEqual(sum.input.run, child.parameters);
    const rows = sum.input.run.rows as number[];
    await complete(call, sum, { total: rows.reduce((a, b) => a + b, 0) });

    const store = await claim(call, "main");
    assert.equal(store.step, "store");
    assert.deepEqual(store.input.deps, { process: { sum: { total: 15 } } });
    await complete(call, store, "ok");
    const done = await run(call, id);
    assert.equal(done.status, "COMPLETED");
    assert.deepEqual(step(done, "process").output, { sum: { total: 15 } });
  },
);

dbTest("parameters the child's schema refuses fail the step with the schema errors", async (db) => {
  const { call } = testApp(db);
  await setup(call);
  const id = (await call("POST", "/trigger/pipeline-dep", { parameters: { region: "mars" } })).body
    .run_id;
  await complete(call, await claim(call, "main"), { rows: [1, "two", 3.5] });

  const doc = await run(call, id);
  assert.equal(doc.status, "FAILED");
  assert.deepEqual(doc.children, [], "no child was made");
  const sub = step(doc, "process");
  assert.equal(sub.status, "FAILED");
  assert.equal(sub.attempts, 1, "not retried: the same data would fail again");
  assert.equal(sub.error.code, "subflow_parameters_invalid");
  const paths = sub.error.errors.map((e: any) => e.path).sort();
  assert.deepEqual(paths, ["parameters.region", "parameters.rows[1]", "parameters.rows[2]"]);
  assert.match(sub.error.message, /do not match the schema of deployment "summer-dep"/);
  assert.match(sub.error.message, /parameters\.rows\[1\]: /);
  // Nothing reached the isolated pool.
  const hb = await call("POST", "/heartbeat", { worker: "w", pool: "isolated", capacity: 5 });
  assert.deepEqual(hb.body.tasks, []);
});

dbTest("a reference to data that is not there fails the step and names it", async (db) => {
  const { call } = testApp(db);
  await setup(call);
  const id = (await call("POST", "/trigger/pipeline-dep", { parameters: { region: "eu" } })).body
    .run_id;
  await complete(call, await claim(call, "main"), { count: 3 });
  const sub = step(await run(call, id), "process");
  assert.equal(sub.status, "FAILED");
  assert.equal(sub.error.code, "subflow_parameters_invalid");
  assert.deepEqual(sub.error.errors, [
    { path: "parameters.rows", message: '"deps.fetch/rows" refers to nothing' },
    { path: "parameters.label", message: '"deps.fetch/rows/0" refers to nothing' },
  ]);
});

dbTest("a map step hands each child its element through {{ item }}", async (db) => {
  const { call } = testApp(db);
  await setup(call);
  await call("POST", "/register", {
    name: "fan",
    steps: [
      { slug: "list" },
      {
        slug: "each",
        deployment: "summer-dep",
        depends_on: ["list"],
        map: "list",
        parameters: { rows: "{{ item/values }}", region: "{{ item/region }}" },
      },
    ],
  });
  const id = (await call("POST", "/trigger/flows/fan", { pool: "main" })).body.run_id;
  await complete(call, await claim(call, "main"), [
    { values: [1], region: "eu" },
    { values: [2, 3], region: "us" },
  ]);
  const doc = await run(call, id);
  assert.equal(doc.children.length, 2);
  const params = await Promise.all(
    doc.children.map(async (c: any) => (await run(call, c.run_id)).parameters),
  );
  assert.deepEqual(params, [{ rows: [1], region: "eu" }, { rows: [2, 3], region: "us" }]);
});

dbTest("a parameters template is checked at registration", async (db) => {
  const { call } = testApp(db);
  const res = await call("POST", "/register", {
    name: "bad",
    steps: [
      { slug: "fetch" },
      {
        slug: "process",
        deployment: "x",
        depends_on: ["fetch"],
        parameters: {
          a: "{{ deps.nope }}",
          b: ["{{ item }}"],
          c: { d: "{{ what.ever }}" },
          e: "{{ deps.fetch/rows/0 }}",
        },
      },
      { slug: "plain", parameters: { a: 1 } },
      { slug: "list", deployment: "x", parameters: [1] },
    ],
  });
  assert.equal(res.status, 422, JSON.stringify(res.body));
  assert.deepEqual(res.body.errors.map((e: any) => e.path), [
    "steps[1].parameters.a",
    "steps[1].parameters.b[0]",
    "steps[1].parameters.c.d",
    "steps[2].parameters",
    "steps[3].parameters",
  ]);
  const messages = res.body.errors.map((e: any) => e.message);
  assert.match(messages[0], /"nope" is not in this step's depends_on/);
  assert.match(messages[1], /item exists only in a map step/);
  assert.match(messages[2], /is not a reference/);
  assert.match(messages[3], /only a step with a deployment takes parameters/);
  assert.match(messages[4], /must be an object/);
  assert.equal((await call("GET", "/register/flows/bad")).status, 404);

  // A flow without templates keeps its hash: registering it twice is one version.
  const plain = { name: "same", steps: [{ slug: "a", deployment: "x" }] };
  const first = await call("POST", "/register", plain);
  const again = await call("POST", "/register", plain);
  assert.equal(again.body.created, false);
  assert.equal(again.body.hash, first.body.hash);
});
