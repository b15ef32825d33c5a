import assert from "node:assert/strict";
import type { z } from "zod";
import {
  AdHocRunBody,
  CompleteBody,
  ConcurrencyLimitBody,
  DeployBody,
  FailBody,
  HeartbeatBody,
  KeyBody,
  PoolBody,
  RunsQuery,
  TriggerBody,
  uuidParam,
  VariableBody,
} from "../../shared/api/schemas.ts";
import { zodIssuesToErrors } from "../../shared/http/error_path.ts";
import { ApiError } from "../../shared/http/problem.ts";

const TASK = "0b6f4a52-6a43-4c43-9a1b-3f1c0d4e2a10";

/** Error paths of parsing `value` with `schema` ([] when valid). */
function paths(schema: z.ZodType, value: unknown): string[] {
  const result = schema.safeParse(value);
  return result.success ? [] : zodIssuesToErrors(result.error.issues).map((e) => e.path);
}

Deno.test("a deployment body gets its defaults; the api.md example parses", () => {
  assert.deepEqual(DeployBody.parse({ name: "etl-nightly", flow: "etl" }), {
    name: "etl-nightly",
    flow: "etl",
    description: null,
    version: "latest",
    pool: "default",
    queue: "default",
    parameters: {},
    tags: [],
    schedules: [],
    concurrency_limit: null,
    collision_strategy: "enqueue",
    paused: false,
    job_variables: {},
    retention_days: null,
  });
  const full = DeployBody.parse({
    name: "etl-nightly",
    flow: "etl",
    version: 3,
    parameters: { day: "today" },
    schedules: [{ cron: "30 15 * * 1-5", timezone: "Asia/Kolkata" }, { interval: 3600 }],
    concurrency_limit: 1,
    job_variables: {
      image: "registry.example/etl:1.2",
      env: {},
      volumes: [],
      network: "",
      custom: 1,
    },
  });
  assert.equal(full.version, 3);
  assert.equal(full.schedules.length, 2);
  assert.equal((full.job_variables as Record<string, unknown>).custom, 1);
});

Deno.test("deployment errors name their paths", () => {
  assert.deepEqual(
    paths(DeployBody, {
      name: "a b",
      flow: "etl",
      version: "newest",
      schedules: [1],
      paused: "no",
    }),
    ["name", "version", "schedules[0]", "paused"],
  );
});

Deno.test("a push pool needs a url; a pull pool does not", () => {
  assert.deepEqual(PoolBody.parse({ name: "default" }), {
    name: "default",
    type: "pull",
    description: null,
    concurrency_limit: null,
    paused: false,
    url: null,
  });
  assert.deepEqual(paths(PoolBody, { name: "p", type: "push" }), ["url"]);
  assert.deepEqual(paths(PoolBody, { name: "p", type: "push", url: "ftp://x" }), ["url"]);
  assert.deepEqual(paths(PoolBody, { name: "p", type: "push", url: "https://w.example/run" }), []);
  assert.deepEqual(paths(PoolBody, { name: "p", type: "docker" }), ["type"]);
});

Deno.test("key bodies accept known scopes only, de-duplicated", () => {
  assert.deepEqual(KeyBody.parse({ name: "ci", scopes: ["trigger", "read", "trigger"] }).scopes, [
    "read",
    "trigger",
  ]);
  assert.deepEqual(paths(KeyBody, { name: "ci", scopes: ["root"] }), ["scopes[0]"]);
  assert.deepEqual(paths(KeyBody, { name: "ci", scopes: [] }), ["scopes"]);
});

Deno.test("trigger bodies ignore webhook envelopes; ad hoc runs are strict", () => {
  assert.deepEqual(TriggerBody.parse({}), { parameters: {}, tags: [] });
  assert.deepEqual(TriggerBody.parse({ action: "push", parameters: { day: "d" } }), {
    parameters: { day: "d" },
    tags: [],
  });
  assert.deepEqual(paths(TriggerBody, { parameters: [1] }), ["parameters"]);
  assert.deepEqual(paths(TriggerBody, { tags: "etl" }), ["tags"]);
  assert.deepEqual(AdHocRunBody.parse({}), {
    parameters: {},
    version: "latest",
    pool: "default",
    tags: [],
  });
  assert.deepEqual(paths(AdHocRunBody, { parameters: {}, versoin: 2 }), ["versoin"]);
});

Deno.test("runs queries coerce limits and check statuses", () => {
  assert.deepEqual(RunsQuery.parse({ limit: "10", status: "RUNNING" }), {
    limit: 10,
    status: "RUNNING",
  });
  assert.deepEqual(paths(RunsQuery, { limit: "0", status: "running" }), ["status", "limit"]);
});

Deno.test("heartbeats: task ids are UUIDs, capacity is bounded, extra fields pass", () => {
  const beat = HeartbeatBody.parse({ worker: "w-1", pool: "default", capacity: 4, version: "2" });
  assert.deepEqual(beat, {
    worker: "w-1",
    pool: "default",
    capacity: 4,
    wait_seconds: 0,
    running: [],
  });
  assert.deepEqual(
    paths(HeartbeatBody, {
      worker: "w-1",
      pool: "default",
      capacity: -1,
      running: [{ task: "not-a-uuid", lease: "" }],
    }),
    ["capacity", "running[0].task", "running[0].lease"],
  );
});

Deno.test("complete and fail bodies", () => {
  assert.deepEqual(CompleteBody.parse({ lease: "l" }), { lease: "l", output: null });
  assert.deepEqual(CompleteBody.parse({ lease: "l", output: [1] }), { lease: "l", output: [1] });
  assert.deepEqual(FailBody.parse({ lease: "l", error: { message: "boom", stack: "at x" } }), {
    lease: "l",
    error: { message: "boom", retryable: true, stack: "at x" },
  });
  assert.deepEqual(paths(FailBody, { lease: "l", error: { retryable: "yes" } }), [
    "error.message",
    "error.retryable",
  ]);
});

Deno.test("concurrency limits and variables", () => {
  assert.deepEqual(ConcurrencyLimitBody.parse({ tag: "etl-limit", limit: 3 }), {
    tag: "etl-limit",
    limit: 3,
  });
  assert.deepEqual(paths(ConcurrencyLimitBody, { tag: "etl-limit", limit: "3" }), ["limit"]);
  for (const value of [null, 0, "s", [1], { a: { b: null } }]) {
    assert.deepEqual(VariableBody.parse({ value }), { value });
  }
  assert.deepEqual(paths(VariableBody, {}), ["value"]);
});

Deno.test("a malformed id in a path is a 404, not a database error", () => {
  assert.equal(uuidParam(TASK.toUpperCase(), "task"), TASK);
  assert.throws(() => uuidParam("1; drop table runs", "run"), (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 404);
    return true;
  });
});
