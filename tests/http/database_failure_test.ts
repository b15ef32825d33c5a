/**
 * After an internal error of the database layer the app answers correctly
 * or says 503, never wrong data (issue 10, item 5). The fault is deep
 * recursion in SQL: Postgres refuses it cleanly (54001), while PGlite's
 * WebAssembly stack overflows, which used to leave the instance answering
 * every later statement with nothing at all.
 */
import assert from "node:assert/strict";
import { pgliteSql } from "../../shared/db/pglite.ts";
import { DatabaseUnavailableError } from "../../shared/db/sql.ts";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";

const RECURSIVE = `create function public.deep(n integer) returns integer
  language plpgsql as $$ begin return public.deep(n + 1); end $$`;

dbTest(
  "deep recursion in SQL: later requests answer right or 503, never wrong",
  async (db, kind) => {
    const { call } = testApp(db);
    assert.equal(
      (await call("POST", "/register", { name: "kept", steps: [{ slug: "a" }] })).status,
      201,
    );
    await db.sql.exec(RECURSIVE);

    await assert.rejects(db.sql`select public.deep(1) as n`);

    const flows = await call("GET", "/register/flows");
    const health = await call("GET", "/health");
    if (kind === "postgres") {
      // Refused cleanly (stack depth limit): nothing else is affected.
      assert.equal(health.status, 200);
      assert.equal(flows.status, 200);
    } else {
      // An in-memory PGlite cannot be reopened: unavailable until restart, and says so.
      assert.equal(health.status, 503);
      assert.equal(health.body.code, "unavailable");
      assert.equal(flows.status, 503, JSON.stringify(flows.body));
      assert.equal(flows.body.code, "unavailable");
      assert.ok(flows.headers.get("retry-after"));
      await assert.rejects(db.sql`select 1 as ok`, DatabaseUnavailableError);
      await assert.rejects(db.sql.begin((tx) => tx`select 1 as ok`), DatabaseUnavailableError);
    }
    if (flows.status === 200) {
      assert.deepEqual(flows.body.flows.map((f: { name: string }) => f.name), ["kept"]);
    }
  },
);

Deno.test({
  name: "a PGlite on disk broken by a statement is reopened and answers right again",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "edgeflow-pglite-" });
    const sql = await pgliteSql(dir);
    try {
      await sql.exec(`create table public.kept (x integer);
        insert into public.kept values (1), (2);
        ${RECURSIVE}`);
      await assert.rejects(sql`select public.deep(1) as n`, DatabaseUnavailableError);
      // Until it is reopened every statement is refused; afterwards the data is all there.
      let answer: { n: number }[] | undefined;
      for (let i = 0; i < 200 && !answer; i++) {
        try {
          answer = await sql<{ n: number }>`select count(*)::int as n from public.kept`;
        } catch (err) {
          assert.ok(err instanceof DatabaseUnavailableError, String(err));
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      assert.deepEqual(answer, [{ n: 2 }]);
      await sql`insert into public.kept values (3)`;
      assert.deepEqual(await sql`select count(*)::int as n from public.kept`, [{ n: 3 }]);
      assert.equal(await sql.ping!(1_000), true);
    } finally {
      await sql.end();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
