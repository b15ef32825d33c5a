/**
 * A frozen database (every Postgres process SIGSTOPped: connections are
 * accepted by the kernel, nothing answers) must not hang requests: a
 * statement already on the wire gives up at its timeout, `/health` answers
 * 503 within its own short timeout, later requests fail at once with 503 +
 * Retry-After, and after SIGCONT everything works again by itself
 * (issue 10, item 3). A private server, so nothing else on the machine
 * freezes with it.
 */
import assert from "node:assert/strict";
import { postgresSql } from "../../shared/db/postgres.ts";
import { migrate } from "../../shared/db/migrate.ts";
import { loadMigrations } from "../../shared/runtime/migrations_fs.ts";
import { ADMIN_KEY, serveApp, until } from "./harness.ts";
import { startPrivatePostgres } from "./private_postgres.ts";

/** A request that reports its status and headers, or status 0 when it got no answer in 20 s. */
async function request(url: string, method: string, body?: unknown) {
  try {
    const res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  } catch (err) {
    return { status: 0, headers: new Headers(), body: String(err) };
  }
}

/** A private server needs the Postgres binaries; a fresh machine on PGlite alone skips this. */
function havePostgresBinaries(): boolean {
  try {
    return new Deno.Command("pg_config", { args: ["--bindir"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "a frozen Postgres: fast 503s with Retry-After, /health 503, recovery after SIGCONT",
  ignore: Deno.build.os !== "linux" || !havePostgresBinaries(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const pg = await startPrivatePostgres();
    // Short timeouts so the test is short; the defaults are 5 s and 15 s.
    const sql = postgresSql(pg.url, { max: 4, connectTimeoutMs: 1_000, statementTimeoutMs: 1_500 });
    const server = serveApp(sql, { healthTimeoutMs: 300 });
    try {
      await migrate(sql, await loadMigrations());
      const { url, call } = server;
      assert.equal(
        (await call("POST", "/register", { name: "ice", steps: [{ slug: "a" }] })).status,
        201,
      );
      assert.equal((await call("GET", "/health")).status, 200);

      await pg.freeze();
      // On the wire before anyone knew: bounded by the statement timeout, then 503.
      const caught = await request(`${url}/trigger/flows/ice`, "POST", {});
      assert.equal(caught.status, 503, JSON.stringify(caught.body));
      assert.equal(caught.body.code, "unavailable");
      assert.ok(Number(caught.headers.get("retry-after")) >= 1);

      const health = await request(`${url}/health`, "GET");
      assert.equal(health.status, 503, "health answers, and says 503");
      assert.ok(Number(health.headers.get("retry-after")) >= 1);

      // Known down: requests fail at once instead of queueing behind the silent server.
      const fast = await Promise.all(
        [1, 2, 3].map(() => request(`${url}/trigger/flows/ice`, "POST", {})),
      );
      for (const res of fast) {
        assert.equal(res.status, 503, JSON.stringify(res.body));
        assert.equal(res.body.code, "unavailable");
        assert.equal(res.headers.get("content-type"), "application/problem+json");
        assert.ok(Number(res.headers.get("retry-after")) >= 1);
        assert.ok(!/postgres|sql|select/i.test(res.body.detail), "no database text");
      }

      await pg.thaw();
      await until("health back to 200", async () => (await call("GET", "/health")).status === 200);
      const run = await call("POST", "/trigger/flows/ice", {});
      assert.equal(run.status, 201, JSON.stringify(run.body));
      const read = await call("GET", `/trigger/runs/${run.body.run_id}`);
      assert.equal(read.status, 200);
    } finally {
      await pg.thaw().catch(() => {});
      await server.close();
      await sql.end().catch(() => {});
      await pg.close();
    }
  },
});
