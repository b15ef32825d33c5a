import assert from "node:assert/strict";
import { z } from "zod";
import { HTTPException } from "hono/http-exception";
import { ApiError } from "../../shared/http/problem.ts";
import { captureLog, testApp } from "./helpers.ts";

/** An app whose only route throws `err`. */
function throwing(err: unknown, log = captureLog()) {
  return testApp((app) => app.get("/boom", () => Promise.reject(err)), log.log);
}

/** Errors shaped like postgres.js / PGlite errors. */
function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, name: "PostgresError" });
}

Deno.test("an ApiError renders as an RFC 9457 problem document", async () => {
  const app = throwing(
    ApiError.of("validation_failed", "bad flow", [{ path: "steps[0].slug", message: "nope" }]),
  );
  const res = await app.request("/boom");
  assert.equal(res.status, 422);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.deepEqual(await res.json(), {
    type: "https://edgeflow.dev/problems/validation_failed",
    title: "Validation failed",
    status: 422,
    detail: "bad flow",
    code: "validation_failed",
    errors: [{ path: "steps[0].slug", message: "nope" }],
  });
});

Deno.test("a problem without field errors still carries an empty errors array", async () => {
  const res = await throwing(ApiError.of("stale_lease", "lease moved on")).request("/boom");
  assert.equal(res.status, 409);
  const body = await res.json();
  assert.equal(body.code, "stale_lease");
  assert.deepEqual(body.errors, []);
});

Deno.test("rate_limited carries Retry-After", async () => {
  const res = await throwing(ApiError.of("rate_limited", "slow down", [], { retryAfter: 2.2 }))
    .request("/boom");
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "3");
});

Deno.test("an unknown route is a 404 problem", async () => {
  const res = await testApp(() => {}).request("/nowhere", { method: "POST" });
  assert.equal(res.status, 404);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = await res.json();
  assert.equal(body.code, "not_found");
  assert.match(body.detail, /POST \/nowhere/);
});

Deno.test("a plain Error is a 500 problem that leaks nothing, and is logged", async () => {
  const log = captureLog();
  const err = new Error("relation secret_table does not exist at db.ts:42");
  const res = await throwing(err, log).request("/boom");
  assert.equal(res.status, 500);
  const text = await res.text();
  assert.doesNotMatch(text, /secret_table|db\.ts|stack/);
  assert.equal(JSON.parse(text).code, "internal");
  assert.equal(log.lines.length, 1);
  assert.equal(log.lines[0].level, "error");
  assert.match(JSON.stringify(log.lines[0].fields), /secret_table/);
});

Deno.test("a Postgres syntax or internal error stays a 500", async () => {
  for (const code of ["42P01", "XX000", "42601"]) {
    const res = await throwing(pgError(code, "relation x does not exist")).request("/boom");
    assert.equal(res.status, 500, code);
    assert.doesNotMatch(await res.text(), /relation x/);
  }
});

Deno.test("Postgres data exceptions (22xxx) are the client's 4xx, not 500", async () => {
  for (const code of ["22P02", "22001", "22003", "22P05", "22021"]) {
    const res = await throwing(pgError(code, 'invalid input syntax for type uuid: "abc"'))
      .request("/boom");
    assert.equal(res.status, 422, code);
    assert.equal((await res.json()).code, "validation_failed");
  }
});

Deno.test("integrity violations map to 409 or 422", async () => {
  const cases: [string, string, number, string][] = [
    ["23505", 'duplicate key value violates unique constraint "flows_pkey"', 409, "conflict"],
    ["23503", 'insert or update on table "runs" violates foreign key', 422, "validation_failed"],
    ["23503", 'update or delete on table "flows" violates foreign key', 409, "conflict"],
    ["23514", 'new row violates check constraint "c"', 422, "validation_failed"],
    ["23502", "null value in column", 422, "validation_failed"],
    ["54000", "index row size 9000 exceeds maximum", 422, "validation_failed"],
  ];
  for (const [code, message, status, problemCode] of cases) {
    const res = await throwing(pgError(code, message)).request("/boom");
    assert.equal(res.status, status, `${code} ${message}`);
    const body = await res.json();
    assert.equal(body.code, problemCode);
    assert.doesNotMatch(body.detail, /flows_pkey|constraint "c"/);
  }
});

Deno.test("an unreachable database is a 503 with Retry-After", async () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED 10.0.0.5:5432"), {
    code: "ECONNREFUSED",
  });
  const cases: unknown[] = [
    refused,
    Object.assign(new Error("write CONNECTION_CLOSED db:5432"), { code: "CONNECTION_CLOSED" }),
    pgError("57P01", "terminating connection due to administrator command"),
    pgError("08006", "connection failure"),
    pgError("53300", "too many connections"),
    pgError("40001", "could not serialize access"),
    new Error("Network connection lost."),
    Object.assign(new Error("refused"), { name: "ConnectionRefused" }),
    new Error("query failed", { cause: refused }),
  ];
  for (const err of cases) {
    const log = captureLog();
    const res = await throwing(err, log).request("/boom");
    assert.equal(res.status, 503, String(err));
    assert.equal(res.headers.get("retry-after"), "1");
    const text = await res.text();
    assert.equal(JSON.parse(text).code, "unavailable");
    assert.doesNotMatch(text, /10\.0\.0\.5|db:5432/);
    assert.equal(log.lines[0].level, "warn");
  }
});

Deno.test("a TypeError mentioning a connection property is still a 500", async () => {
  const res = await throwing(
    new TypeError("Cannot read properties of undefined (reading 'connection')"),
  )
    .request("/boom");
  assert.equal(res.status, 500);
});

Deno.test("a thrown zod error is a 422 with joined paths", async () => {
  const schema = z.object({ steps: z.array(z.object({ depends_on: z.array(z.string()) })) });
  const err = schema.safeParse({ steps: [{ depends_on: ["a", 1] }] }).error;
  const res = await throwing(err).request("/boom");
  assert.equal(res.status, 422);
  const body = await res.json();
  assert.deepEqual(body.errors.map((e: { path: string }) => e.path), ["steps[0].depends_on[1]"]);
});

Deno.test("Hono's HTTPException keeps its 4xx status under our codes", async () => {
  const res = await throwing(new HTTPException(413, { message: "too big" })).request("/boom");
  assert.equal(res.status, 413);
  assert.equal((await res.json()).code, "payload_too_large");
});

Deno.test("headers set before the error survive in the problem response", async () => {
  const app = testApp((app) => {
    app.use("*", async (c, next) => {
      c.header("Access-Control-Allow-Origin", "*");
      await next();
    });
    app.get("/boom", () => {
      throw ApiError.of("forbidden", "no");
    });
  });
  const res = await app.request("/boom");
  assert.equal(res.status, 403);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
});
