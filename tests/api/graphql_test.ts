import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";

const sync = {
  name: "data-sync",
  entrypoint: "flows/sync.py:run",
  image: "ghcr.io/myorg/workflows:latest",
  tags: ["sync", "scheduled"],
  steps: [
    { slug: "extract", handler: "sync.extract" },
    { slug: "load", handler: "sync.load", depends_on: ["extract"] },
  ],
};

async function seed(call: ReturnType<typeof testApp>["call"]): Promise<string> {
  assert.equal((await call("POST", "/register", sync)).status, 201);
  assert.equal((await call("POST", "/register", { ...sync, tags: ["sync"] })).status, 201);
  assert.equal(
    (await call("POST", "/deploy", { name: "sync-hourly", flow: "data-sync" })).status,
    201,
  );
  const run = await call("POST", "/trigger/sync-hourly", {});
  assert.equal(run.status, 201);
  const hb = await call("POST", "/heartbeat", {
    worker: "w",
    pool: "default",
    capacity: 1,
    running: [],
  });
  const [task] = hb.body.tasks;
  await call("POST", `/heartbeat/tasks/${task.task}/complete`, { lease: task.lease, output: 7 });
  return run.body.run_id;
}

dbTest("graphql answers registeredFlows, deployments and run(id) from the database", async (db) => {
  const { call } = testApp(db);
  const runId = await seed(call);
  const res = await call("POST", "/register/graphql", {
    query: `query ($id: ID!) {
      registeredFlows { name entrypoint image tags version steps { slug dependsOn } }
      deployments { name flow pool paused version }
      run(id: $id) { id status flow deployment steps { slug status attempts } }
      missing: run(id: "00000000-0000-4000-8000-000000000000") { id }
      notAnId: run(id: "42") { id }
    }`,
    variables: { id: runId },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.errors, undefined, JSON.stringify(res.body.errors));
  assert.deepEqual(res.body.data.registeredFlows, [{
    name: "data-sync",
    entrypoint: "flows/sync.py:run",
    image: "ghcr.io/myorg/workflows:latest",
    tags: ["sync"],
    version: 2,
    steps: [{ slug: "extract", dependsOn: [] }, { slug: "load", dependsOn: ["extract"] }],
  }]);
  assert.deepEqual(res.body.data.deployments, [
    { name: "sync-hourly", flow: "data-sync", pool: "default", paused: false, version: "latest" },
  ]);
  assert.deepEqual(res.body.data.run, {
    id: runId,
    status: "RUNNING",
    flow: "data-sync",
    deployment: "sync-hourly",
    steps: [
      { slug: "extract", status: "COMPLETED", attempts: 1 },
      { slug: "load", status: "QUEUED", attempts: 0 },
    ],
  });
  assert.equal(res.body.data.missing, null);
  assert.equal(res.body.data.notAnId, null);

  const runs = await call("POST", "/register/graphql", {
    query:
      `{ runs(deployment: "sync-hourly") { id steps { slug } } flow(name: "data-sync", version: 1) { version tags } }`,
  });
  assert.deepEqual(runs.body.data.runs, [{
    id: runId,
    steps: [{ slug: "extract" }, { slug: "load" }],
  }]);
  assert.deepEqual(runs.body.data.flow, { version: 1, tags: ["scheduled", "sync"] });
});

dbTest("graphql: read keys may query (GET and POST), other scopes may not", async (db) => {
  const { call } = testApp(db);
  await call("POST", "/register", sync);
  const key = async (scopes: string[]) =>
    (await call("POST", "/deploy/keys", { name: scopes.join("+"), scopes })).body.key as string;
  const reader = await key(["read"]);
  const worker = await key(["worker"]);
  const query = "{ registeredFlows { name } }";

  const post = await call("POST", "/register/graphql", { query }, { key: reader });
  assert.equal(post.status, 200, JSON.stringify(post.body));
  assert.deepEqual(post.body.data.registeredFlows, [{ name: "data-sync" }]);
  const get = await call("GET", `/register/graphql?query=${encodeURIComponent(query)}`, undefined, {
    key: reader,
  });
  assert.deepEqual(get.body.data, post.body.data);

  assert.equal((await call("POST", "/register/graphql", { query }, { key: worker })).status, 403);
  assert.equal((await call("POST", "/register/graphql", { query }, { key: null })).status, 401);
});

dbTest("graphql reports bad queries as GraphQL errors and bad bodies as problems", async (db) => {
  const { call } = testApp(db);
  const syntax = await call("POST", "/register/graphql", { query: "{ registeredFlows { name " });
  assert.equal(syntax.status, 400);
  assert.match(syntax.body.errors[0].message, /Syntax Error/);
  const unknown = await call("POST", "/register/graphql", {
    query: "{ registeredFlows { nope } }",
  });
  assert.match(unknown.body.errors[0].message, /Cannot query field "nope"/);
  const limit = await call("POST", "/register/graphql", { query: "{ runs(limit: 0) { id } }" });
  assert.equal(limit.body.errors[0].message, "limit must be 1-500");

  const noQuery = await call("POST", "/register/graphql", { variables: {} });
  assert.equal(noQuery.status, 422);
  assert.equal(noQuery.body.errors[0].path, "query");
  const badVars = await call("GET", "/register/graphql?query=%7Bx%7D&variables=nope");
  assert.equal(badVars.status, 422);
  assert.equal(badVars.body.errors[0].path, "variables");
});

/** POSTs `query` and returns the response, asserting a 400 GraphQL error matching `message`. */
async function refusedQuery(
  call: ReturnType<typeof testApp>["call"],
  query: string,
  message: RegExp,
  variables?: Record<string, unknown>,
) {
  const res = await call("POST", "/register/graphql", { query, variables });
  assert.equal(res.status, 400, JSON.stringify(res.body).slice(0, 500));
  assert.equal(res.body.data, undefined);
  assert.ok(res.body.errors.length >= 1);
  assert.ok(
    res.body.errors.some((e: { message: string }) => message.test(e.message)),
    JSON.stringify(res.body.errors).slice(0, 500),
  );
  assert.doesNotMatch(JSON.stringify(res.body), /internal error|invalid byte sequence/);
  return res;
}

dbTest(
  "graphql refuses floods of aliases, costly nesting and deep selections with a 400",
  async (db) => {
    const { call } = testApp(db);
    await seed(call);
    const aliases = Array.from({ length: 1000 }, (_, i) => `a${i}: registeredFlows { name }`);
    await refusedQuery(call, `{ ${aliases.join(" ")} }`, /1000 aliases; at most 100/);
    const runs = Array.from({ length: 50 }, (_, i) => `r${i}: runs(limit: 50) { steps { slug } }`);
    await refusedQuery(call, `{ ${runs.join(" ")} }`, /estimated cost is 27550/);
    // The limit may come in a variable, or the variable's default.
    await refusedQuery(
      call,
      `query ($n: Int = 500) { a: runs(limit: $n) { steps { slug status } } b: runs { id } }`,
      /estimated cost/,
    );
    await refusedQuery(
      call,
      `query ($n: Int) { runs(limit: $n) { steps { slug status attempts } } }`,
      /estimated cost/,
      { n: 500 },
    );
    // 5,000 nested selections: refused before the recursive parser sees them (was a stack overflow).
    await refusedQuery(call, "{a".repeat(5000) + "}".repeat(5000), /nested 5000 levels deep/);
    await refusedQuery(call, `{ flow(name: ${"[".repeat(100_000)}) { name } }`, /nested/);
    // A fragment "bomb": 2^20 fields from 20 lines, counted without expanding it.
    const bomb = Array.from(
      { length: 20 },
      (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`,
    );
    await refusedQuery(
      call,
      `{ ...F0 } ${bomb.join(" ")} fragment F20 on Query { registeredFlows { name } }`,
      /fields; at most 500/,
    );
    // Queries of a sensible size still run.
    const ok = await call("POST", "/register/graphql", {
      query: "{ runs(limit: 500) { id status } registeredFlows { name steps { slug } } }",
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.errors, undefined);
    assert.equal(ok.body.data.runs.length, 1);
  },
);

dbTest(
  "a NUL in a graphql string argument is a validation error, not a Postgres error",
  async (db) => {
    const { call } = testApp(db);
    await seed(call);
    await refusedQuery(call, '{ flow(name: "a\\u0000b") { name } }', /NUL/);
    await refusedQuery(call, '{ registeredFlows(name: "a\\u{0}") { name } }', /NUL/);
    // In variables it is refused with the other body checks, at its path.
    const res = await call("POST", "/register/graphql", {
      query: "query ($n: String!) { flow(name: $n) { name } }",
      variables: { n: "a\u0000b" },
    });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.errors[0].path, "variables.n");
    const get = await call(
      "GET",
      `/register/graphql?query=${
        encodeURIComponent("query ($n: String!) { flow(name: $n) { name } }")
      }` +
        `&variables=${encodeURIComponent('{"n":"a\\u0000"}')}`,
    );
    assert.equal(get.status, 422, JSON.stringify(get.body));
    assert.equal(get.body.errors[0].path, "variables.n");
  },
);
