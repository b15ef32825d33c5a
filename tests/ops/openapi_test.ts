/**
 * `GET /openapi.json` and `/docs` (issue 15): every route the app mounts is
 * in the document and every operation in it is mounted; its schemas compile
 * as JSON Schema 2020-12; and what the contract tests (tests/api/
 * contract_test.ts, run here as a subprocess recording its responses)
 * received validates against the document: status, media type and body.
 */
import assert from "node:assert/strict";
import { Validator } from "@cfworker/json-schema";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { createApp } from "../../shared/app/app.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { openApiDocument, openApiPath } from "../../shared/openapi/document.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;
const doc = openApiDocument() as Json;
const METHODS = ["get", "post", "put", "delete", "patch"];

function mounted(): Set<string> {
  const app = createApp({
    sql: () => {
      throw new Error("no database in this test");
    },
    config: { heartbeatSeconds: 10, leaseSeconds: 30 },
    log: silentLogger,
  });
  return new Set(
    app.routes.filter((r) => METHODS.includes(r.method.toLowerCase())).map((r) =>
      `${r.method.toLowerCase()} ${openApiPath(r.path)}`
    ),
  );
}

function resolve(schema: Json): Json {
  const ref = schema.$ref as string | undefined;
  return ref ? doc.components.schemas[ref.split("/").pop()!] : schema;
}

Deno.test("every mounted route is in the OpenAPI document, and nothing else", () => {
  const routes = mounted();
  const documented = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const method of Object.keys(item)) documented.add(`${method} ${path}`);
  }
  assert.deepEqual([...routes].filter((r) => !documented.has(r)), [], "mounted, not documented");
  assert.deepEqual([...documented].filter((r) => !routes.has(r)), [], "documented, not mounted");
  assert.equal(doc.openapi, "3.1.0");
});

Deno.test("every schema in the document compiles, request bodies come from the zod schemas", () => {
  let n = 0;
  for (const item of Object.values(doc.paths as Json)) {
    for (const op of Object.values(item as Json) as Json[]) {
      assert.ok(Object.keys(op.responses).length, op.operationId);
      const schemas = [
        op.requestBody?.content["application/json"].schema,
        ...Object.values(op.responses as Json).flatMap((r: Json) =>
          (Object.values(r.content ?? {}) as Json[]).map((m) => m.schema)
        ),
      ].filter(Boolean);
      for (const s of schemas) {
        new Validator(resolve(s), "2020-12");
        n++;
      }
    }
  }
  assert.ok(n > 100, `${n} schemas`);
  // The register body is the zod schema's: a step needs a slug, names have their pattern.
  const register = doc.paths["/register"].post.requestBody.content["application/json"].schema;
  assert.ok(register.required.includes("steps") || register.required.includes("name"));
  const bad = new Validator(register, "2020-12").validate({ name: "a b", steps: [{}] });
  assert.equal(bad.valid, false);
});

dbTest(
  "/openapi.json and /docs are served without a key; /docs loads nothing external",
  async (db) => {
    const { call } = testApp(db);
    const res = await call("GET", "/openapi.json", undefined, { key: null });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, JSON.parse(JSON.stringify(doc)));
    const page = await call("GET", "/docs", undefined, { key: null });
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type")!, /^text\/html/);
    const html = page.body as string;
    assert.doesNotMatch(html, /<script|<link|src=|@import|url\(/i);
    for (const path of ["/trigger/{deployment}", "/heartbeat", "/metrics", "/deploy/pools"]) {
      assert.ok(html.includes(path), path);
    }
  },
  { only: "pglite" },
);

/** The operation documenting a concrete request, literal segments before parameters. */
function operationFor(method: string, path: string): Json | undefined {
  const candidates = Object.keys(doc.paths).filter((p) => doc.paths[p][method.toLowerCase()])
    .filter((p) =>
      new RegExp(`^${p.replace(/\{\w+\}/g, "[^/]+").replace(/\./g, "\\.")}$`).test(path)
    )
    .sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
  return candidates.length ? doc.paths[candidates[0]][method.toLowerCase()] : undefined;
}

Deno.test("the contract tests' responses validate against the document", async () => {
  const file = await Deno.makeTempFile({ suffix: ".jsonl" });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "tests/api/contract_test.ts"],
      env: { EDGEFLOW_RECORD_RESPONSES: file, EDGEFLOW_TEST_DATABASES: "pglite" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(run.success, new TextDecoder().decode(run.stdout).slice(-3000));
    const records = (await Deno.readTextFile(file)).trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(records.length > 50, `${records.length} responses recorded`);
    const seen = new Set<string>();
    const failures: string[] = [];
    for (const r of records) {
      const op = operationFor(r.method, r.path);
      if (!op) {
        // Only the contract test's unknown routes: a 404 problem.
        if (r.status !== 404) failures.push(`${r.method} ${r.path}: no operation`);
        continue;
      }
      seen.add(op.operationId);
      const spec = op.responses[r.status] ?? op.responses[`${String(r.status)[0]}XX`];
      if (!spec) {
        failures.push(`${op.operationId} ${r.status}: status not documented`);
        continue;
      }
      const type = (r.type ?? "").split(";")[0];
      if (!spec.content) continue; // a redirect or an empty body
      const media = spec.content[type];
      if (!media) {
        failures.push(`${op.operationId} ${r.status}: ${type} not documented`);
        continue;
      }
      if (!type.includes("json")) continue;
      const result = new Validator(resolve(media.schema), "2020-12", false).validate(r.body);
      if (!result.valid) {
        failures.push(
          `${op.operationId} ${r.status}: ${JSON.stringify(result.errors.slice(0, 3))} in ${
            JSON.stringify(r.body).slice(0, 300)
          }`,
        );
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(seen.size >= 20, `${seen.size} operations exercised`);
  } finally {
    await Deno.remove(file);
  }
});
