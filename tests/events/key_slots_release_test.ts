// deno-lint-ignore-file no-explicit-any
/**
 * Per-key concurrency slots (issue 16) are given back, and taken again, by
 * every path that ends or restarts a run: cancel, a crash (the lease-expiry
 * sweep on a last attempt), a lease expiring with attempts left, a Lazarus
 * resurrection in the sweep, a retry. After each path two invariants hold:
 * no slot is held by a finished run (a leak), and every live run of a
 * key-limited deployment holds its key's slot (never two runs of a key at
 * once). On PGlite and Postgres.
 */
import assert from "node:assert/strict";
import { dbTest, type TestDatabase } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { advanceClock } from "../support/clock.ts";
import { deploy } from "../limits/helpers.ts";
import { claimTasks, completeTask, failTask } from "../../shared/engine/tasks.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { register } from "./helpers.ts";

const FINAL = ["COMPLETED", "FAILED", "CANCELLED", "CRASHED"];

/** The two invariants; returns the live runs per key for the caller's own checks. */
async function assertSlots(sql: Sql, what: string) {
  const leaked = await sql<{ limit_key: string; status: string }>`
    select s.limit_key, r.status from edgeflow.slots s join edgeflow.runs r on r.id = s.run_id
     where r.status = any(${FINAL}::text[])`;
  assert.deepEqual([...leaked], [], `${what}: no slot held by a finished run`);
  const unslotted = await sql<{ id: string; status: string }>`
    select r.id::text, r.status from edgeflow.runs r
      join edgeflow.deployments d on d.id = r.deployment_id
     where jsonb_array_length(d.concurrency) > 0 and r.awaiting_slot is null
       and r.status in ('PENDING', 'RUNNING', 'CANCELLING')
       and not exists (select 1 from edgeflow.slots s
                        where s.run_id = r.id and s.limit_key like 'dkey:%')`;
  assert.deepEqual([...unslotted], [], `${what}: every live run holds its key's slot`);
  const perKey = await sql<{ customer: string; live: number }>`
    select r.parameters ->> 'customer' as customer, count(*)::int as live from edgeflow.runs r
     where r.deployment_id is not null and r.awaiting_slot is null
       and r.status in ('PENDING', 'RUNNING', 'CANCELLING')
     group by 1 order by 1`;
  for (const k of perKey) assert.ok(k.live <= 1, `${what}: ${k.live} live runs of ${k.customer}`);
}

async function world(db: TestDatabase, step: Record<string, unknown>, lazarus = false) {
  const t = testApp(db);
  await register(t.call, {
    name: "job",
    settings: { heartbeat: true, lazarus, version_lock: true },
    steps: [{ slug: "s", timeout: 1, max_attempts: 1, ...step }],
  });
  await deploy(t.call, {
    name: "jobs",
    flow: "job",
    concurrency: [{ key: "{{ run.customer }}", limit: 1 }],
  });
  const trigger = async (customer: string) => {
    const res = await t.call("POST", "/trigger/jobs", { parameters: { customer } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.run_id as string;
  };
  const status = async (id: string) => (await t.call("GET", `/trigger/runs/${id}`)).body.status;
  const claim = async (run: string) => {
    const claimed = await claimTasks(db.sql, "default", null, 10);
    const mine = claimed.find((c) => c.run_id === run);
    assert.ok(mine, `a task of ${run} was claimable`);
    const others = claimed.filter((c) => c !== mine).map((c) => ({ task: c.task, lease: c.lease }));
    if (others.length) {
      await db.sql`select edgeflow.hand_back_claims(${JSON.stringify(others)}::text::jsonb)`;
    }
    return mine;
  };
  const sweep = async () => {
    const [row] = await db.sql<{ r: any }>`select edgeflow.sweep() as r`;
    return row.r;
  };
  return { ...t, trigger, status, claim, sweep };
}

dbTest("cancel: a running and a waiting run of a key give their slots back", async (db) => {
  const w = await world(db, { max_attempts: 3 });
  const a = await w.trigger("c1");
  const b = await w.trigger("c1");
  assert.equal(await w.status(b), "SCHEDULED", "in line behind a");
  const t = await w.claim(a);
  await w.call("POST", `/trigger/runs/${a}/cancel`);
  await assertSlots(db.sql, "a cancelling");
  assert.equal(await w.status(b), "SCHEDULED", "a still holds the key while its task runs");
  // The worker reports late: refused, the run ends CANCELLED, its key goes to b.
  assert.ok("error" in await completeTask(db.sql, t.task, t.lease, null));
  assert.equal(await w.status(a), "CANCELLED");
  assert.equal(await w.status(b), "PENDING");
  await assertSlots(db.sql, "a cancelled");
  await w.call("POST", `/trigger/runs/${b}/cancel`);
  await assertSlots(db.sql, "b cancelled before it ran");
  const [{ n }] = await db.sql<{ n: number }>`select count(*)::int as n from edgeflow.slots`;
  assert.equal(n, 0);
});

dbTest(
  "lease expiry: with attempts left the run keeps its key; on the last it crashes and gives it back",
  async (db) => {
    const w = await world(db, { max_attempts: 2 });
    const a = await w.trigger("c1");
    const b = await w.trigger("c1");
    await w.claim(a);
    await advanceClock(db.sql, 1.5);
    await w.sweep();
    await assertSlots(db.sql, "first lease expired");
    assert.equal(await w.status(b), "SCHEDULED", "a's retry still holds the key");
    await w.claim(a);
    await advanceClock(db.sql, 1.5);
    await w.sweep();
    assert.equal(await w.status(a), "CRASHED");
    assert.equal(await w.status(b), "PENDING", "the key went to b");
    await assertSlots(db.sql, "last lease expired");
  },
);

dbTest(
  "Lazarus: a crashed run resurrected by the sweep takes its key again, or waits for it",
  async (db) => {
    const w = await world(db, {}, true);
    const a = await w.trigger("c1");
    const b = await w.trigger("c1");
    await w.claim(a);
    await advanceClock(db.sql, 1.5);
    const swept = await w.sweep();
    // a crashed, b took the key; a's resurrection must wait for it instead of running beside b.
    assert.equal(swept.resurrected, 0, JSON.stringify(swept));
    assert.equal(await w.status(a), "CRASHED");
    assert.equal(await w.status(b), "PENDING");
    await assertSlots(db.sql, "a crashed, b admitted");

    const tb = await w.claim(b);
    assert.ok("ok" in await completeTask(db.sql, tb.task, tb.lease, "b"));
    assert.equal((await w.sweep()).resurrected, 1, "the key is free: a rises");
    assert.equal(await w.status(a), "PENDING");
    await assertSlots(db.sql, "a resurrected");
    const c = await w.trigger("c1");
    assert.equal(await w.status(c), "SCHEDULED", "c waits behind the resurrected a");
    await assertSlots(db.sql, "c in line");
  },
);

dbTest("retry: a retried run takes its key again; a key in use refuses the retry", async (db) => {
  const w = await world(db, { max_attempts: 1 });
  const a = await w.trigger("c1");
  const ta = await w.claim(a);
  await failTask(db.sql, ta.task, ta.lease, { message: "boom" }, false);
  assert.equal(await w.status(a), "FAILED");
  const b = await w.trigger("c1");
  assert.equal(await w.status(b), "PENDING");
  const refused = await w.call("POST", `/trigger/runs/${a}/retry`, {});
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.equal(await w.status(a), "FAILED", "the refusal changed nothing");
  await assertSlots(db.sql, "retry refused");

  const tb = await w.claim(b);
  await completeTask(db.sql, tb.task, tb.lease, null);
  const retried = await w.call("POST", `/trigger/runs/${a}/retry`, {});
  assert.ok(retried.status < 300, JSON.stringify(retried.body));
  await assertSlots(db.sql, "a retried");
  const c = await w.trigger("c1");
  assert.equal(await w.status(c), "SCHEDULED", "c waits behind the retried a");
  // A retry under new parameters takes the new key's slot.
  const ta2 = await w.claim(a);
  await failTask(db.sql, ta2.task, ta2.lease, { message: "again" }, false);
  assert.equal(await w.status(c), "PENDING");
  const moved = await w.call("POST", `/trigger/runs/${a}/retry`, {
    parameters: { customer: "c2" },
  });
  assert.ok(moved.status < 300, JSON.stringify(moved.body));
  await assertSlots(db.sql, "a retried as c2");
});

dbTest(
  "a step's key slots: taken again when a crashed run is resurrected or retried",
  async (db) => {
    const t = testApp(db);
    await register(t.call, {
      name: "stepkey",
      settings: { heartbeat: true, lazarus: true, version_lock: true },
      steps: [{
        slug: "s",
        timeout: 1,
        max_attempts: 1,
        concurrency: [{ key: "{{ run.customer }}", limit: 1 }],
      }],
    });
    const start = async () =>
      (await t.call("POST", "/trigger/flows/stepkey", { parameters: { customer: "c1" } })).body
        .run_id as string;
    const stepOf = async (run: string) => {
      const [s] = await db.sql<{ status: string; holds: boolean }>`
      select status, holds_key_slots as holds from edgeflow.step_states
       where run_id = ${run}::uuid and slug = 's'`;
      return s;
    };
    const live = async () => {
      const rows = await db.sql<{ run_id: string }>`
      select ss.run_id::text from edgeflow.step_states ss
       where ss.slug = 's' and ss.status in ('QUEUED', 'RUNNING')`;
      const [{ slots }] = await db.sql<{ slots: number }>`
      select count(*)::int as slots from edgeflow.slots where limit_key like 'skey:%'`;
      assert.ok(rows.length <= 1, `at most one live step of the key: ${rows.length}`);
      assert.equal(slots, rows.length, "each live step holds its key slot, and only those");
    };
    const a = await start();
    const b = await start();
    assert.equal((await stepOf(b)).status, "PENDING", "b's step in line");
    await claimTasks(db.sql, "default", null, 1);
    await advanceClock(db.sql, 1.5);
    await db.sql`select edgeflow.sweep()`;
    // a crashed (its step's key went to b) and was resurrected: its step waits in line now.
    assert.equal((await stepOf(b)).status, "QUEUED");
    assert.equal((await stepOf(a)).status, "PENDING");
    await live();
    const [tb] = await claimTasks(db.sql, "default", null, 1);
    assert.equal(tb.run_id, b);
    await failTask(db.sql, tb.task, tb.lease, { message: "x" }, false);
    // b failed: a's step takes the key. Retrying b puts b's step in line behind it.
    assert.equal((await stepOf(a)).status, "QUEUED");
    await live();
    const retried = await t.call("POST", `/trigger/runs/${b}/retry`, {});
    assert.ok(retried.status < 300, JSON.stringify(retried.body));
    assert.equal((await stepOf(b)).status, "PENDING");
    await live();
  },
);
