// deno-lint-ignore-file no-explicit-any
/**
 * The hostile inputs of issue 10 ("Bad input", items 6–11) sent to the real
 * app on a real database: each must be a 4xx problem document that names the
 * field, writes nothing, and carries no database text.
 */
import assert from "node:assert/strict";
import { dbTest, type TestDatabase } from "../support/db.ts";
import { testApp } from "../support/app.ts";

type Res = { status: number; body: any; headers: Headers };

/** Words of Postgres error messages; none may reach a client. */
const DB_TEXT =
  /invalid byte sequence|out of range for type|invalid input syntax|violates|relation "|column "|SQLSTATE|unsupported Unicode|syntax error at/i;

/** Asserts a problem document of `status` whose errors name every path in `paths`. */
function refused(res: Res, status: number, paths: string[]): void {
  const text = JSON.stringify(res.body);
  assert.equal(res.status, status, text);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.ok(Array.isArray(res.body.errors), text);
  const seen = res.body.errors.map((e: { path: string }) => e.path);
  for (const path of paths) assert.ok(seen.includes(path), `${path} not in ${text}`);
  assert.doesNotMatch(text, DB_TEXT);
}

const flow = {
  name: "etl",
  parameters: { type: "object", properties: { n: { type: "integer" }, s: { type: "string" } } },
  steps: [{ slug: "a" }],
};

const COUNTS: Record<string, (db: TestDatabase) => Promise<{ n: number }[]>> = {
  runs: (db) => db.sql`select count(*)::int as n from edgeflow.runs`,
  deployments: (db) => db.sql`select count(*)::int as n from edgeflow.deployments`,
  pools: (db) => db.sql`select count(*)::int as n from edgeflow.pools`,
  workers: (db) => db.sql`select count(*)::int as n from edgeflow.workers`,
};

async function count(db: TestDatabase, table: keyof typeof COUNTS): Promise<number> {
  const [{ n }] = await COUNTS[table](db);
  return n;
}

dbTest(
  "1e309 anywhere in a body is a 422 at its path, and nothing is stored as null",
  async (db) => {
    const { call } = testApp(db);
    assert.equal((await call("POST", "/register", flow)).status, 201);
    assert.equal((await call("POST", "/deploy", { name: "d", flow: "etl" })).status, 201);

    refused(await call("POST", "/trigger/d", '{"parameters":{"n":1e309}}'), 422, ["parameters.n"]);
    refused(
      await call("POST", "/trigger/flows/etl", '{"parameters":{"n":[1,-1e309]}}'),
      422,
      ["parameters.n[1]"],
    );
    refused(
      await call("POST", "/deploy", '{"name":"d2","flow":"etl","parameters":{"n":1e400}}'),
      422,
      ["parameters.n"],
    );
    refused(
      await call(
        "POST",
        "/register",
        JSON.stringify(flow).replace('"slug":"a"', '"slug":"a","args":{"x":1e999}'),
      ),
      422,
      ["steps[0].args.x"],
    );
    assert.equal(await count(db, "runs"), 0);
    assert.equal(await count(db, "deployments"), 1);
  },
);

dbTest("a NUL character in any string is a 422 at its path, not a Postgres error", async (db) => {
  const { call } = testApp(db);
  assert.equal((await call("POST", "/register", flow)).status, 201);
  assert.equal((await call("POST", "/deploy", { name: "d", flow: "etl" })).status, 201);
  refused(await call("POST", "/trigger/d", { parameters: { s: "a\u0000b" } }), 422, [
    "parameters.s",
  ]);
  refused(await call("POST", "/deploy", { name: "d", flow: "etl", description: "x\u0000" }), 422, [
    "description",
  ]);
  refused(await call("POST", "/deploy/pools", { name: "p", description: "\u0000" }), 422, [
    "description",
  ]);
  refused(await call("POST", "/deploy/keys", { name: "k\u0000", scopes: ["read"] }), 422, [
    "name",
  ]);
  refused(await call("POST", "/trigger/d", { parameters: { ["k\u0000"]: 1 } }), 422, [
    'parameters["k\\u0000"]',
  ]);
  assert.equal(await count(db, "runs"), 0);
  assert.equal(await count(db, "pools"), 1, "only the default pool");
});

dbTest("integers beyond the integer column are a 422 at their path", async (db) => {
  const { call } = testApp(db);
  assert.equal((await call("POST", "/register", flow)).status, 201);
  const big = 2_147_483_648;
  refused(await call("POST", "/deploy", { name: "d", flow: "etl", concurrency_limit: big }), 422, [
    "concurrency_limit",
  ]);
  refused(await call("POST", "/deploy", { name: "d", flow: "etl", version: big }), 422, [
    "version",
  ]);
  refused(await call("POST", "/deploy/pools", { name: "p", concurrency_limit: big }), 422, [
    "concurrency_limit",
  ]);
  refused(await call("POST", "/trigger/flows/etl", { version: big }), 422, ["version"]);
  refused(await call("POST", "/deploy/concurrency-limits", { tag: "t", limit: big }), 422, [
    "limit",
  ]);
  assert.equal(await count(db, "deployments"), 0);
  assert.equal(await count(db, "runs"), 0);
});

dbTest("90,000 unknown fields give a small problem document: 50 errors and a count", async (db) => {
  const { call } = testApp(db);
  const body: Record<string, unknown> = { ...flow };
  for (let i = 0; i < 90_000; i++) body[`f${i}`] = 0;
  const res = await call("POST", "/register", body);
  refused(res, 422, ["f0"]);
  assert.equal(res.body.errors.length, 50);
  assert.equal(res.body.errors_omitted, 90_000 - 50);
  assert.ok(JSON.stringify(res.body).length < 10_000);
});

dbTest("version path parameters must be canonical positive integers", async (db) => {
  const { call } = testApp(db);
  assert.equal((await call("POST", "/register", flow)).status, 201);
  for (const v of ["1e0", "0x1", "%201", "1.0", "01", "+1", "0", "-1", "2147483648"]) {
    const res = await call("POST", `/register/flows/etl/versions/${v}/archive`);
    refused(res, 404, []);
  }
  const [{ archived }] = await db.sql`select archived from edgeflow.flow_versions`;
  assert.equal(archived, false, "no spelling of 1 archived version 1");
  assert.equal((await call("POST", "/register/flows/etl/versions/1/archive")).status, 200);
});

dbTest("a heartbeat naming an unknown pool is a 422 at pool and records no worker", async (db) => {
  const { call } = testApp(db);
  const res = await call("POST", "/heartbeat", { worker: "w", pool: "nope", capacity: 1 });
  refused(res, 422, ["pool"]);
  assert.equal(await count(db, "workers"), 0);
  // A pool that exists works as before.
  assert.equal((await call("POST", "/deploy/pools", { name: "gpu" })).status, 201);
  const ok = await call("POST", "/heartbeat", { worker: "w", pool: "gpu", capacity: 1 });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(await count(db, "workers"), 1);
});

dbTest("a pool's description is stored and returned", async (db) => {
  const { call } = testApp(db);
  const made = await call("POST", "/deploy/pools", { name: "gpu", description: "the A100s" });
  assert.equal(made.status, 201);
  assert.equal(made.body.description, "the A100s");
  assert.equal((await call("GET", "/deploy/pools/gpu")).body.description, "the A100s");
  await call("POST", "/deploy/pools", { name: "gpu" });
  assert.equal((await call("GET", "/deploy/pools/gpu")).body.description, null);
});

dbTest("the QStash 401 is a problem document like every other", async (db) => {
  const { call } = testApp(db);
  const id = crypto.randomUUID();
  const res = await call("POST", `/trigger/schedules/${id}/fire`, { schedule_id: id }, {
    key: null,
  });
  refused(res, 401, []);
  assert.equal(res.body.type, "https://edgeflow.dev/problems/invalid_signature");
  assert.equal(res.body.code, "invalid_signature");
  assert.deepEqual(res.body.errors, []);
});

dbTest("catastrophic patterns are refused at register and never run at trigger", async (db) => {
  const { call } = testApp(db);
  const evil = {
    name: "evil",
    parameters: {
      type: "object",
      properties: { s: { type: "string", pattern: "^(a+)+$" } },
      patternProperties: { "^(a|aa)+$": {} },
    },
    steps: [{ slug: "a" }],
  };
  refused(await call("POST", "/register", evil), 422, [
    "parameters.properties.s.pattern",
    'parameters.patternProperties["^(a|aa)+$"]',
  ]);
  // A schema stored before the check existed: the trigger refuses to run it.
  assert.equal((await call("POST", "/register", { ...evil, parameters: {} })).status, 201);
  await db.sql`update edgeflow.flow_versions
                  set definition = jsonb_set(definition, '{parameters}', ${
    JSON.stringify(evil.parameters)
  }::text::jsonb)`;
  const res = await call("POST", "/trigger/flows/evil", {
    parameters: { s: "a".repeat(40) + "!" },
  });
  refused(res, 422, ["parameters"]);
  assert.match(res.body.errors[0].message, /unsafe pattern/);
  assert.equal(await count(db, "runs"), 0);
});

dbTest(
  "patterns a hostile-input probe slipped past the check are refused at register",
  async (db) => {
    // Each passed before session 13 and then blocked the server at trigger time:
    // `^(a{1,10}){1,10}$` 4.7 s on 32 a's and a "!", `^(a+){10}$` 3.8 s,
    // `^\d*\d*\d*\d*x` 2.4 s on 300 digits.
    const { call } = testApp(db);
    for (const pattern of ["^(a{1,10}){1,10}$", "^(a+){10}$", "^\\d*\\d*\\d*\\d*x"]) {
      const res = await call("POST", "/register", {
        name: "evil2",
        parameters: { type: "object", properties: { s: { type: "string", pattern } } },
        steps: [{ slug: "a" }],
      });
      refused(res, 422, ["parameters.properties.s.pattern"]);
    }
    assert.equal(await count(db, "runs"), 0);
  },
);

dbTest("a huge pattern or a huge schema array is a 422 or runs, never a 500", async (db) => {
  const { call } = testApp(db);
  // "(" + "a*" × 150,000 + ")" overflowed the stack in the pattern check: a 500.
  const long = await call("POST", "/register", {
    name: "long",
    parameters: {
      type: "object",
      properties: { s: { type: "string", pattern: "(" + "a*".repeat(150_000) + ")" } },
    },
    steps: [{ slug: "a" }],
  });
  refused(long, 422, ["parameters.properties.s.pattern"]);
  assert.match(JSON.stringify(long.body), /longer than 1000 characters/);
  // A schema holding a 300,000-element array registered, then overflowed the
  // stack of every trigger's schema walk: a 500 on each.
  const big = await call("POST", "/register", {
    name: "big",
    parameters: { type: "object", "x-list": Array.from({ length: 300_000 }, () => 0) },
    steps: [{ slug: "a" }],
  });
  assert.equal(big.status, 201, JSON.stringify(big.body));
  const run = await call("POST", "/trigger/flows/big", { parameters: {} });
  assert.equal(run.status, 201, JSON.stringify(run.body));
});

dbTest(
  "lone surrogates, NULs in the URL and impossible cursor dates are refused at their field",
  async (db) => {
    // Found by a hostile-input probe: each reached Postgres, which answered a
    // 422 that named no field, or stored U+FFFD in place of the surrogate.
    const { call } = testApp(db);
    assert.equal((await call("POST", "/register", flow)).status, 201);
    // JSON text with the escape `\ud800`: JSON.stringify would write it as-is too.
    const raw = (body: string) => call("POST", "/deploy/keys", body);
    refused(await raw('{"name":"x\\ud800y","scopes":["read"]}'), 422, ["name"]);
    refused(
      await call(
        "POST",
        "/register",
        '{"name":"f2","description":"x\\udc00","steps":[{"slug":"a"}]}',
      ),
      422,
      ["description"],
    );
    refused(
      await call("POST", "/trigger/events", '{"name":"e1","payload":{"\\ud800":1}}'),
      422,
      ['payload["\\ud800"]'],
    );
    const keys = await db.sql<{ n: number }>`select count(*)::int as n from edgeflow.api_keys`;
    assert.equal(keys[0].n, 0, "no key stored");
    // A pair is a character: stored and returned as sent.
    const pair = await call("POST", "/register", {
      ...flow,
      name: "f3",
      description: "x\ud83d\ude00y",
    });
    assert.equal(pair.status, 201, JSON.stringify(pair.body));

    // NUL in a path: nothing can have that name (404); in a query parameter: 422 at its name.
    for (
      const path of [
        "/register/flows/a%00b",
        "/deploy/deployments/a%00b",
        "/deploy/pools/a%00b",
        "/register/flows/a%00b%FF",
      ]
    ) {
      const res = await call("GET", path);
      assert.equal(res.status, 404, `${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      assert.doesNotMatch(JSON.stringify(res.body), DB_TEXT);
    }
    refused(await call("POST", "/trigger/a%00b", {}), 404, []);
    refused(await call("GET", "/trigger/events?key=%00"), 422, ["key"]);

    // Cursor times Date.parse accepts but Postgres refuses or reads otherwise.
    const cursor = (at: string) =>
      btoa(`${at}|00000000-0000-4000-8000-000000000000`).replaceAll("+", "-").replaceAll("/", "_")
        .replace(/=+$/, "");
    for (const at of ["0000-01-01T00:00:00Z", "+275760-09-13T00:00:00.000Z", "1", "2022/02/30"]) {
      refused(await call("GET", `/trigger/runs?cursor=${cursor(at)}`), 422, ["cursor"]);
    }
    const ok = await call("GET", `/trigger/runs?cursor=${cursor("2026-01-01T00:00:00.000000Z")}`);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  },
);

dbTest("integer query parameters are plain decimal digits", async (db) => {
  // Number() read 0x10, 1e2 and " 10" as 16, 100 and 10 (a hostile-input probe).
  const { call } = testApp(db);
  for (const v of ["0x10", "1e2", "%2010", "10%20", "+10", "1.0"]) {
    refused(await call("GET", `/trigger/runs?limit=${v}`), 422, ["limit"]);
    refused(await call("GET", `/trigger/events?limit=${v}`), 422, ["limit"]);
  }
  const run = "00000000-0000-4000-8000-000000000000";
  refused(await call("GET", `/trigger/runs/${run}/events?after=%2010`), 422, ["after"]);
  refused(await call("GET", `/trigger/runs/${run}/events?limit=0x10`), 422, ["limit"]);
  const ok = await call("GET", "/trigger/runs?limit=10");
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal((await call("GET", "/trigger/runs")).status, 200);
});
