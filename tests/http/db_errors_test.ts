/**
 * The error map against real drivers: the codes and shapes PGlite and
 * postgres.js actually throw, not hand-made imitations.
 */
import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { toApiError } from "../../shared/http/error_map.ts";
import { problemDocument } from "../../shared/http/problem.ts";

/** The error a promise rejects with. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

Deno.test("real PGlite errors caused by input are 4xx; our own SQL mistakes are 500", async () => {
  const db = new PGlite();
  try {
    await db.exec(`create table t (id uuid primary key, name varchar(5) check (name <> 'bad'))`);
    await db.query(`insert into t values ('0b6f4a52-6a43-4c43-9a1b-3f1c0d4e2a10', 'ok')`);
    const cases: [string, unknown[], number][] = [
      [`select $1::uuid`, ["not-a-uuid"], 422],
      [`insert into t values (gen_random_uuid(), $1)`, ["toolongname"], 422],
      [`insert into t values (gen_random_uuid(), $1)`, ["bad"], 422],
      [`select $1::int`, ["99999999999"], 422],
      [`select $1::jsonb`, ['{"a": "\\u0000"}'], 422],
      [`insert into t values ('0b6f4a52-6a43-4c43-9a1b-3f1c0d4e2a10', 'x')`, [], 409],
      [`select * from missing_table`, [], 500],
    ];
    for (const [sql, params, status] of cases) {
      const err = await rejection(db.query(sql, params));
      assert.equal(toApiError(err).status, status, `${sql} → ${(err as Error).message}`);
    }
  } finally {
    await db.close();
  }
});

Deno.test("a closed PGlite is a 503", async () => {
  const db = new PGlite();
  await db.close();
  const err = await rejection(db.query("select 1"));
  assert.equal(toApiError(err).status, 503, String(err));
});

Deno.test("a real refused connection from postgres.js is a 503", async () => {
  // Port 1 on localhost: nothing listens there, so the connect is refused at once.
  const sql = postgres("postgres://u:p@127.0.0.1:1/db", { max: 1, connect_timeout: 2 });
  try {
    const err = await rejection(sql`select 1`);
    const mapped = toApiError(err);
    assert.equal(mapped.status, 503, String(err));
    assert.equal(mapped.code, "unavailable");
  } finally {
    await sql.end({ timeout: 0 });
  }
});

Deno.test("data exceptions from PGlite become a 422 that does not quote the database", async () => {
  const db = new PGlite();
  try {
    const cases: [string, unknown[]][] = [
      [`select $1::int`, ["2147483648"]],
      [`select $1::text`, ["a\u0000b"]],
      [`select $1::jsonb`, ['{"a": "\\u0000"}']],
      [`select $1::uuid`, ["not-a-uuid"]],
    ];
    for (const [sql, params] of cases) {
      const err = await rejection(db.query(sql, params));
      const mapped = toApiError(err);
      const shown = JSON.stringify(problemDocument(mapped));
      assert.equal(mapped.status, 422, shown);
      assert.ok(!shown.includes((err as Error).message), `${shown} quotes the database`);
      assert.doesNotMatch(
        shown,
        /invalid byte sequence|out of range for type|invalid input syntax/,
      );
      assert.equal(mapped.errors.length, 1, "errors is never empty");
    }
  } finally {
    await db.close();
  }
});
