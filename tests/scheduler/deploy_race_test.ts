// deno-lint-ignore-file no-explicit-any
/**
 * Concurrent deploys of one deployment (issue 18): eight `POST /deploy` at
 * once, identical or of two different bodies, with ticks beside them, round
 * after round. Identical bodies converge on that body's schedules with the
 * ids a sequential redeploy keeps; different bodies leave one body's
 * schedules whole; no fire time of the deployment is ever planned twice. On
 * Postgres every request has its own connection; on PGlite the statements of
 * racing requests interleave on its one connection.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { postgresSql } from "../../shared/db/postgres.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { type Call, Clock, clockApp, deploy, registerFlow, tick } from "./helpers.ts";

// Two schedules that never fire together (odd and even minutes) ...
const A = [
  { interval: 120, anchor: "2026-01-01T00:00:00Z", parameters: { body: "A", k: 0 } },
  { interval: 120, anchor: "2026-01-01T00:01:00Z", parameters: { body: "A", k: 1 } },
];
// ... and one that fires every minute.
const B = [{ cron: "* * * * *", timezone: "Asia/Kolkata", parameters: { body: "B" } }];

/** What a schedule set is, without ids and fire times. */
function shape(schedules: any[]): string {
  return JSON.stringify(schedules.map((s) => [
    s.cron ?? s.interval,
    Object.entries(s.parameters).sort(([a], [b]) => a < b ? -1 : 1),
  ]));
}
const SHAPES = { A: shape(A), B: shape(B) };

async function document(call: Call, name: string) {
  const res = await call("GET", `/deploy/deployments/${name}`);
  assert.equal(res.status, 200);
  return res.body;
}

/** Fire times of the deployment that have more than one run. */
async function doubled(sql: Sql, name: string): Promise<string[]> {
  const rows = await sql<{ at: string }>`
    select edgeflow.iso(r.scheduled_time) as at from edgeflow.runs r
      join edgeflow.deployments d on d.id = r.deployment_id
     where d.name = ${name}
     group by r.scheduled_time having count(*) > 1`;
  return rows.map((r) => r.at);
}

function shuffled<T>(xs: T[], seed: number): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

dbTest("racing deploys of one deployment converge on one body's schedules", async (db, kind) => {
  const clock = Clock.at("2026-11-23T08:00:10Z");
  // One connection per racing request on Postgres.
  const sql = kind === "postgres" ? postgresSql(db.url!, { max: 12 }) : db.sql;
  try {
    const { call } = clockApp(sql, clock);
    await registerFlow(call);
    const rounds = kind === "postgres" ? 24 : 12;
    const last = new Map<string, { body: "A" | "B"; ids: string[] }>();
    for (let round = 0; round < rounds; round++) {
      // Each deployment is created by a race, then raced over three more times.
      const name = `race-${Math.floor(round / 4)}`;
      const mixed = round % 2 === 1;
      const same: "A" | "B" = round % 4 === 0 ? "A" : "B";
      const bodies = Array.from(
        { length: 8 },
        (_, i) => (mixed ? (i % 2 === 0 ? "A" : "B") : same) as "A" | "B",
      );
      const work = shuffled([
        ...bodies.map((b) => () => deploy(call, { name, schedules: b === "A" ? A : B })),
        ...[0, 1, 2].map(() => () => tick(call)),
      ], round + 1);
      await Promise.all(work.map((w) => w()));

      const doc = await document(call, name);
      const got = shape(doc.schedules);
      const ids = doc.schedules.map((s: any) => s.id);
      const at = `round ${round} (${mixed ? "A and B" : `all ${same}`})`;
      if (mixed) assert.ok(got === SHAPES.A || got === SHAPES.B, `${at}: ${got}`);
      else assert.equal(got, SHAPES[same], `${at}: the body's schedules`);
      const body: "A" | "B" = got === SHAPES.A ? "A" : "B";
      // Deploying the body that was already there keeps its schedules' ids.
      const before = last.get(name);
      if (!mixed && before?.body === body) assert.deepEqual(ids, before.ids, `${at}: ids kept`);
      // A sequential redeploy of the winning body keeps exactly these ids.
      const again = await deploy(call, { name, schedules: body === "A" ? A : B });
      assert.deepEqual(again.schedules.map((s: any) => s.id), ids, `${at}: redeploy keeps ids`);
      last.set(name, { body, ids });

      await tick(call);
      assert.deepEqual(await doubled(db.sql, name), [], `${at}: a fire time planned twice`);
      // The runs still ahead are the winner's, one per fire time.
      const ahead = await db.sql<{ body: string }>`
        select r.parameters ->> 'body' as body from edgeflow.runs r
          join edgeflow.deployments d on d.id = r.deployment_id
         where d.name = ${name} and r.scheduled_time > ${clock.now().toISOString()}::timestamptz`;
      assert.ok(ahead.length > 0, `${at}: runs planned ahead`);
      assert.deepEqual([...new Set(ahead.map((r) => r.body))], [body], `${at}: stale runs`);
      clock.advance(45);
    }
  } finally {
    if (kind === "postgres") await sql.end();
  }
});
