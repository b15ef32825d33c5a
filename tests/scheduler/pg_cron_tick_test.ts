/**
 * The tick without HTTP: pg_cron runs `select edgeflow.tick()` on a private
 * Postgres cluster (shared_preload_libraries = 'pg_cron'), and a cron
 * schedule's run is created by pg_cron alone — nothing here calls
 * POST /trigger/tick — exactly once although two pg_cron jobs run the tick
 * at the same minute. Deploying planned the fire times (TypeScript); the SQL
 * tick fires them. The schedule is daily (03:00 Berlin): the engine's clock
 * (edgeflow.advance_clock, a table pg_cron's sessions read too) is moved to
 * 30 s before its fire time rather than waiting for it.
 *
 * pg_cron 1.4 (Debian 12) has minute resolution only: the test waits for its
 * next minute (polling cron.job_run_details with a deadline); with pg_cron
 * ≥ 1.5 a `'1 seconds'` schedule would do. Skipped, saying why, without
 * postgresql-15-cron or without root (initdb runs as the postgres OS user).
 */
import assert from "node:assert/strict";
import { postgresSql } from "../../shared/db/postgres.ts";
import { migrate } from "../../shared/db/migrate.ts";
import { loadMigrations } from "../../shared/runtime/migrations_fs.ts";
import { testApp } from "../support/app.ts";
import { pgCronMissing, startPgCronCluster } from "../support/pg_cron_cluster.ts";

// Once per CI run: the second pass (our own pgmq) has nothing to add to a test of pg_cron.
const missing = Deno.env.get("EDGEFLOW_PGMQ") === "compat"
  ? "the EDGEFLOW_PGMQ=compat pass leaves it to the first pass"
  : pgCronMissing();
const NAME = "pg_cron alone creates a cron schedule's run, once, with two jobs racing";

Deno.test({
  name: missing ? `${NAME} (skipped: ${missing})` : NAME,
  ignore: missing !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cluster = await startPgCronCluster();
    const sql = postgresSql(cluster.url);
    try {
      await migrate(sql, await loadMigrations());
      await sql`create extension if not exists pg_cron`;
      const [{ version }] = await sql<{ version: string }>`
        select extversion as version from pg_extension where extname = 'pg_cron'`;
      const { call } = testApp({ sql, close: () => sql.end() });
      assert.equal(
        (await call("POST", "/register", { name: "nightly", steps: [{ slug: "only" }] })).status,
        201,
      );
      const deployed = await call("POST", "/deploy", {
        name: "nightly-3am",
        flow: "nightly",
        schedules: [{ cron: "0 3 * * *", timezone: "Europe/Berlin" }],
      });
      assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
      const fireAt: string = deployed.body.schedules[0].next_fire_at;
      await sql`select edgeflow.advance_clock(
                  extract(epoch from ${fireAt}::timestamptz - edgeflow.now()) - 30)`;
      const [plan] = await sql<{ n: number }>`
        select cardinality(times) as n from edgeflow.schedule_plans`;
      assert.ok(plan.n > 1, "the deploy planned fire times ahead");
      const [before] = await sql<{ n: number }>`select count(*)::int as n from edgeflow.runs`;
      assert.equal(before.n, 0);

      // Two jobs running the same tick every minute: they race each minute.
      await sql`select cron.schedule('edgeflow-tick-a', '* * * * *', 'select edgeflow.tick()')`;
      await sql`select cron.schedule('edgeflow-tick-b', '* * * * *', 'select edgeflow.tick()')`;
      const deadline = Date.now() + 150_000;
      let runs: { job: string; status: string; message: string }[] = [];
      while (Date.now() < deadline) {
        runs = await sql<{ job: string; status: string; message: string }>`
          select j.jobname as job, d.status, coalesce(d.return_message, '') as message
            from cron.job_run_details d join cron.job j using (jobid)
           where d.status in ('succeeded', 'failed')`;
        if (new Set(runs.map((r) => r.job)).size === 2) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.deepEqual(
        [...new Set(runs.map((r) => r.job))].sort(),
        ["edgeflow-tick-a", "edgeflow-tick-b"],
        `pg_cron ${version} ran both jobs within the deadline`,
      );
      assert.deepEqual(runs.filter((r) => r.status !== "succeeded"), [], "no tick failed");

      // The schedule's run: its fire time, exactly once.
      const made = await sql<{ at: string; n: number }>`
        select edgeflow.iso(r.scheduled_time) as at, count(*)::int as n
          from edgeflow.runs r join edgeflow.deployments d on d.id = r.deployment_id
         where d.name = 'nightly-3am' group by r.scheduled_time order by 1`;
      assert.deepEqual([...made], [{ at: fireAt, n: 1 }], "pg_cron's tick created the run, once");
      const [next] = await sql<{ ok: boolean }>`
        select next_fire_at > (select max(scheduled_time) from edgeflow.runs) as ok
          from edgeflow.schedules`;
      assert.equal(next.ok, true, "next_fire_at moved past the fire times it created");
      console.log(
        `  pg_cron ${version}: ${made.length} fire time(s), one run each: ${
          made.map((m) => m.at).join(", ")
        }`,
      );
      await sql`select cron.unschedule(jobname) from cron.job`;
    } finally {
      await sql.end();
      await cluster.stop();
    }
  },
});
