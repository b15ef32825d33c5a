import assert from "node:assert/strict";
import { readJsonAs } from "../../shared/http/body.ts";
import { normalizeFlow, RegisterBody } from "../../shared/api/schemas.ts";
import { postJson, testApp } from "./helpers.ts";

/** POST /register as a route would do it: validate, normalize, echo. */
const app = testApp((app) => {
  app.post("/register", async (c) => c.json(normalizeFlow(await readJsonAs(c, RegisterBody))));
});

/** Registers `body` and returns status and problem/result body. */
async function register(body: unknown) {
  const res = await app.request("/register", postJson(body));
  return { status: res.status, body: await res.json() };
}

/** Registers a flow expected to fail and returns its error paths with messages. */
async function errorsOf(body: unknown): Promise<Record<string, string>> {
  const { status, body: problem } = await register(body);
  assert.equal(status, 422, JSON.stringify(problem));
  assert.equal(problem.code, "validation_failed");
  return Object.fromEntries(
    problem.errors.map((e: { path: string; message: string }) => [e.path, e.message]),
  );
}

const ETL = {
  name: "etl",
  description: "nightly load",
  entrypoint: "flows/etl.py:daily_sync",
  image: "registry.example/etl",
  tags: ["etl"],
  parameters: { type: "object", properties: { day: { type: "string" } }, required: ["day"] },
  defaults: { max_attempts: 3, base_delay: 1, timeout: 60 },
  settings: { heartbeat: true, lazarus: true, version_lock: true },
  steps: [
    { slug: "extract", handler: "etl.extract" },
    { slug: "split", handler: "etl.split", depends_on: ["extract"] },
    {
      slug: "load_part",
      handler: "etl.load_part",
      depends_on: ["split"],
      map: "split",
      max_attempts: 5,
    },
    { slug: "report", handler: "etl.report", depends_on: ["load_part", "extract"], timeout: 120 },
  ],
};

Deno.test("the api.md example registers with every default filled in", async () => {
  const { status, body } = await register({ ...ETL, idempotency_key: "k1" });
  assert.equal(status, 200);
  assert.equal(body.idempotency_key, "k1");
  assert.equal(body.version_group, null);
  assert.equal("idempotency_key" in body.flow, false);
  assert.deepEqual(body.flow.steps.map((s: { slug: string }) => s.slug), [
    "extract",
    "split",
    "load_part",
    "report",
  ]);
  assert.deepEqual(body.flow.steps[3], {
    slug: "report",
    handler: "etl.report",
    depends_on: ["extract", "load_part"],
    map: null,
    max_attempts: 3,
    base_delay: 1,
    timeout: 120,
    start_delay: 0,
    args: null,
    deployment: null,
  });
  assert.equal(body.flow.steps[2].max_attempts, 5);
  assert.equal(body.flow.steps[2].map, "split");
  assert.deepEqual(body.flow.settings, { heartbeat: true, lazarus: true, version_lock: true });
});

Deno.test("duplicate slugs are 422 at the second declaration", async () => {
  const errors = await errorsOf({
    name: "f",
    steps: [{ slug: "a" }, { slug: "b" }, { slug: "a" }],
  });
  assert.match(errors["steps[2].slug"], /duplicate slug "a".*steps\[0\]/);
});

Deno.test("unknown and self dependencies are 422 at the dependency", async () => {
  const errors = await errorsOf({
    name: "f",
    steps: [{ slug: "a" }, { slug: "b", depends_on: ["a", "ghost", "b"] }],
  });
  assert.deepEqual(Object.keys(errors).sort(), [
    "steps[1].depends_on[1]",
    "steps[1].depends_on[2]",
  ]);
  assert.match(errors["steps[1].depends_on[1]"], /unknown step "ghost"/);
  assert.match(errors["steps[1].depends_on[2]"], /itself/);
});

Deno.test("a cycle is reported once per step on it, not for steps downstream", async () => {
  const errors = await errorsOf({
    name: "f",
    steps: [
      { slug: "start" },
      { slug: "a", depends_on: ["start", "c"] },
      { slug: "b", depends_on: ["a"] },
      { slug: "c", depends_on: ["b"] },
      { slug: "after", depends_on: ["c"] },
    ],
  });
  assert.deepEqual(Object.keys(errors).sort(), [
    "steps[1].depends_on[1]",
    "steps[2].depends_on[0]",
    "steps[3].depends_on[0]",
  ]);
  assert.equal(errors["steps[1].depends_on[1]"], "dependency cycle: a -> c -> b -> a");
});

Deno.test("a map that is not a dependency is 422 at the map", async () => {
  const errors = await errorsOf({
    name: "f",
    steps: [{ slug: "a" }, { slug: "b" }, { slug: "c", depends_on: ["a"], map: "b" }],
  });
  assert.deepEqual(Object.keys(errors), ["steps[2].map"]);
});

Deno.test("bad slug characters and SQL metacharacters in names are 422 with paths", async () => {
  const errors = await errorsOf({
    name: "etl'; drop table flows;--",
    steps: [{ slug: "has space" }, { slug: "ok", depends_on: ['x"y'] }, { slug: "a".repeat(64) }],
  });
  assert.deepEqual(Object.keys(errors).sort(), [
    "name",
    "steps[0].slug",
    "steps[1].depends_on[0]",
    "steps[2].slug",
  ]);
});

Deno.test("unknown fields are named; both schema aliases at once are refused", async () => {
  const errors = await errorsOf({
    name: "f",
    entrypoint: "x:y",
    parameters: {},
    parameter_openapi_schema: {},
    steps: [{ slug: "a", depnds_on: [] }],
  });
  assert.equal(errors["steps[0].depnds_on"], "unknown field");
  const both = await errorsOf({
    name: "f",
    entrypoint: "x:y",
    parameters: {},
    parameter_openapi_schema: {},
  });
  assert.match(both.parameter_openapi_schema, /either/);
});

Deno.test("a flow without steps or entrypoint is 422; with an entrypoint it is one step", async () => {
  assert.ok((await errorsOf({ name: "f" })).steps);
  const { body } = await register({
    name: "data-sync",
    entrypoint: "flows/sync.py:run",
    defaults: { timeout: 300 },
    steps: [],
  });
  assert.deepEqual(body.flow.steps, [{
    slug: "main",
    handler: "flows/sync.py:run",
    depends_on: [],
    map: null,
    max_attempts: 3,
    base_delay: 1,
    timeout: 300,
    start_delay: 0,
    args: null,
    deployment: null,
  }]);
  assert.deepEqual(body.flow.settings, { heartbeat: true, lazarus: false, version_lock: true });
});

Deno.test("the same meaning gives the same canonical JSON", () => {
  const a = normalizeFlow(RegisterBody.parse(ETL)).flow;
  const reordered = {
    steps: [
      { handler: "etl.extract", slug: "extract" },
      { depends_on: ["extract", "extract"], slug: "split", handler: "etl.split" },
      {
        max_attempts: 5,
        map: "split",
        depends_on: ["split"],
        slug: "load_part",
        handler: "etl.load_part",
      },
      {
        timeout: 120,
        depends_on: ["extract", "load_part"],
        handler: "etl.report",
        slug: "report",
        args: null,
      },
    ],
    settings: { version_lock: true, lazarus: true },
    defaults: { base_delay: 1 },
    parameter_openapi_schema: {
      required: ["day"],
      properties: { day: { type: "string" } },
      type: "object",
    },
    tags: ["etl", "etl"],
    image: "registry.example/etl",
    entrypoint: "flows/etl.py:daily_sync",
    description: "nightly load",
    name: "etl",
    idempotency_key: "different",
  };
  const b = normalizeFlow(RegisterBody.parse(reordered)).flow;
  assert.equal(JSON.stringify(b), JSON.stringify(a));
});

Deno.test("steps come out dependencies first, ties in declaration order", () => {
  const { flow } = normalizeFlow(RegisterBody.parse({
    name: "f",
    steps: [
      { slug: "z", depends_on: ["y"] },
      { slug: "y" },
      { slug: "x" },
      { slug: "w", depends_on: ["x", "z"] },
    ],
  }));
  assert.deepEqual(flow.steps.map((s) => s.slug), ["y", "z", "x", "w"]);
});

Deno.test("tags are sorted and de-duplicated; args keys are sorted", () => {
  const { flow } = normalizeFlow(RegisterBody.parse({
    name: "f",
    tags: ["b", "a", "b"],
    steps: [{ slug: "s", args: { z: 1, a: { d: 2, c: [{ y: 1, x: 2 }] } } }],
  }));
  assert.deepEqual(flow.tags, ["a", "b"]);
  assert.equal(JSON.stringify(flow.steps[0].args), '{"a":{"c":[{"x":2,"y":1}],"d":2},"z":1}');
});

Deno.test("an unusable parameter schema is 422 at registration", async () => {
  const errors = await errorsOf({
    name: "f",
    entrypoint: "x:y",
    parameter_openapi_schema: {
      type: "object",
      properties: { a: { $ref: "#/definitions/missing" }, b: { type: "string", pattern: "(" } },
    },
  });
  assert.deepEqual(Object.keys(errors).sort(), [
    "parameter_openapi_schema.properties.a.$ref",
    "parameter_openapi_schema.properties.b.pattern",
  ]);
  const notObject = await errorsOf({
    name: "f",
    entrypoint: "x:y",
    parameters: { type: "string" },
  });
  assert.ok(notObject["parameters.type"]);
});
