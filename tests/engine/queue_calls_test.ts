/**
 * The engine's pgmq calls as static statements (edgeflow._mq_compile,
 * migration 0266): each handler queue made gets a branch of its own in
 * _mq_read, _mq_delete, _mq_send and _mq_set_vt, which must do exactly what
 * pgmq's functions do, on our pgmq and on the real extension; any other
 * queue still goes through pgmq.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { postgresSql } from "../../shared/db/postgres.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { loadMigrations } from "../../shared/runtime/migrations_fs.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { flowDef, started } from "../support/flows.ts";

async function body(sql: Sql, fn: string): Promise<string> {
  const [{ def }] = await sql<{ def: string }>`
    select pg_get_functiondef(${`edgeflow.${fn}`}::regproc) as def`;
  return def;
}

/**
 * The real extension adds each new queue's tables to itself (`alter extension
 * pgmq add table`), which Postgres serialises on the extension until commit:
 * there, making two queues at once waits whatever edgeflow does. What the
 * tests below show holds on our pgmq (CI's second pass).
 */
async function realExtension(sql: Sql): Promise<boolean> {
  const [{ real }] = await sql<{ real: boolean }>`
    select exists (select 1 from pg_extension where extname = 'pgmq') as real`;
  return real;
}

async function makeQueue(sql: Sql, handler: string): Promise<string> {
  const [{ q }] = await sql<{ q: string }>`
    select edgeflow.ensure_handler_queue('default', 'default', ${handler}, 30) as q`;
  return q;
}

dbTest("a handler queue made gets static calls that do what pgmq's do", async ({ sql }) => {
  for (const fn of ["_mq_read", "_mq_delete", "_mq_send", "_mq_set_vt"]) {
    assert.doesNotMatch(await body(sql, fn), /when '/, `${fn} starts with no branch`);
  }
  const q = await makeQueue(sql, "static_a");
  for (const fn of ["_mq_read", "_mq_delete", "_mq_send", "_mq_set_vt"]) {
    const def = await body(sql, fn);
    assert.match(def, new RegExp(`when '${q}' then`), `${fn} has the queue's branch`);
    assert.match(def, new RegExp(`pgmq\\.q_${q}\\b`), `${fn} names its table`);
  }

  // Sent in order, visible from p_vt.
  const ids = (await sql<{ id: string }>`
    select edgeflow._mq_send(${q}, array['{"n":1}'::jsonb, '{"n":2}', '{"n":3}'],
                             clock_timestamp()) as id`).map((r) => Number(r.id));
  assert.equal(ids.length, 3);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  await sql`
    select edgeflow._mq_send(${q}, array['{"n":4}'::jsonb],
                             clock_timestamp() + interval '1 hour') as id`;

  // Read: oldest first, at most qty, vt set, read_ct counted; the later one stays hidden.
  const read = await sql<{ msg_id: string; read_ct: number; message: { n: number }; s: number }>`
    select msg_id, read_ct, message,
           extract(epoch from vt - clock_timestamp())::float8 as s
      from edgeflow._mq_read(${q}, 30, 2)`;
  assert.deepEqual(read.map((m) => Number(m.msg_id)), ids.slice(0, 2));
  assert.deepEqual(read.map((m) => m.message.n), [1, 2]);
  assert.deepEqual(read.map((m) => m.read_ct), [1, 1]);
  for (const m of read) assert.ok(m.s > 25 && m.s <= 30, `vt ~30 s ahead, got ${m.s}`);
  const rest = await sql<{ msg_id: string }>`
    select msg_id from edgeflow._mq_read(${q}, 30, 10)`;
  assert.deepEqual(
    rest.map((m) => Number(m.msg_id)),
    [ids[2]],
    "read ones and the later one hidden",
  );

  // set_vt: visible again now.
  await sql`select edgeflow._mq_set_vt(${q}, ${ids[0]}::bigint, 0)`;
  const again = await sql<{ msg_id: string; read_ct: number }>`
    select msg_id, read_ct from edgeflow._mq_read(${q}, 30, 10)`;
  assert.deepEqual(again.map((m) => [Number(m.msg_id), m.read_ct]), [[ids[0], 2]]);

  // delete: returns what it deleted, nothing for an unknown id.
  const gone = await sql<{ id: string }>`
    select edgeflow._mq_delete(${q}, array[${ids[0]}::bigint, ${ids[1]}::bigint, -1]) as id`;
  assert.deepEqual(gone.map((r) => Number(r.id)).sort((a, b) => a - b), ids.slice(0, 2));
  const [{ n }] = await sql<{ n: number }>`
    select count(*)::int as n from pgmq.read(${q}, 0, 10)`;
  assert.equal(n, 0, "pgmq's own read sees the same table: one hidden, one read, two deleted");
  const [{ len }] = await sql<{ len: number }>`
    select queue_length::int as len from pgmq.metrics(${q})`;
  assert.equal(len, 2, "left: the one read and the later one");
});

dbTest(
  "the delete's plan is generic, and migration 0272 keeps the queues' branches",
  async ({ sql }) => {
    // A one-id delete (a single completion's) was planned again on every call
    // with its custom plan (migration 0272): the rewritten delete forces the generic one.
    const setting = async () => {
      const [{ config }] = await sql<{ config: string[] | null }>`
      select proconfig as config from pg_catalog.pg_proc
       where oid = 'edgeflow._mq_delete'::regproc`;
      return config ?? [];
    };
    assert.deepEqual(await setting(), ["plan_cache_mode=force_generic_plan"], "as migrated");
    const q = await makeQueue(sql, "static_g");
    assert.deepEqual(await setting(), ["plan_cache_mode=force_generic_plan"], "as rewritten");
    assert.match(await body(sql, "_mq_delete"), new RegExp(`when '${q}' then`));
    // A database that made its queues before 0272: the migration puts the
    // fallback body in place, then writes the branches again.
    const m = (await loadMigrations()).find((x) => x.version === 272)!;
    await sql.exec(m.sql);
    for (const fn of ["_mq_read", "_mq_delete", "_mq_send", "_mq_set_vt"]) {
      assert.match(await body(sql, fn), new RegExp(`when '${q}' then`), `${fn} after 0272`);
    }
    assert.deepEqual(await setting(), ["plan_cache_mode=force_generic_plan"], "after 0272");
    const [id] = await sql<{ id: string }>`
    select edgeflow._mq_send(${q}, array['{}'::jsonb], clock_timestamp()) as id`;
    const deleted = await sql<{ id: string }>`
    select edgeflow._mq_delete(${q}, array[${id.id}::bigint]) as id`;
    assert.deepEqual(deleted.map((r) => r.id), [id.id]);
  },
);

dbTest("queues not compiled in still go through pgmq", async ({ sql }) => {
  await makeQueue(sql, "static_b");
  // ef_subflows is made by the seed, not as a handler queue: no branch of its own.
  assert.doesNotMatch(await body(sql, "_mq_read"), /when 'ef_subflows'/);
  const [{ id }] = await sql<{ id: string }>`
    select edgeflow._mq_send('ef_subflows', array['{"k":1}'::jsonb], clock_timestamp()) as id`;
  const [m] = await sql<{ msg_id: string; message: { k: number } }>`
    select msg_id, message from edgeflow._mq_read('ef_subflows', 30, 1)`;
  assert.equal(Number(m.msg_id), Number(id));
  assert.deepEqual(m.message, { k: 1 });
  const [{ d }] = await sql<{ d: string }>`
    select edgeflow._mq_delete('ef_subflows', array[${id}::bigint]) as d`;
  assert.equal(Number(d), Number(id));
});

dbTest(
  "queues made by two sessions at once both get their branch",
  async ({ sql, url }) => {
    const a = postgresSql(url!, { max: 1 }), b = postgresSql(url!, { max: 1 });
    try {
      const [qa, qb] = await Promise.all([makeQueue(a, "static_c"), makeQueue(b, "static_d")]);
      // One of the two may have gone on without compiling (the other held the
      // compile lock): the tick writes what is missing.
      await sql`select edgeflow.maintenance()`;
      const def = await body(sql, "_mq_read");
      assert.match(def, new RegExp(`when '${qa}' then`));
      assert.match(def, new RegExp(`when '${qb}' then`));
    } finally {
      await a.end();
      await b.end();
    }
  },
  { only: "postgres" },
);

dbTest(
  "a queue made while another transaction compiles waits for nothing and gets its branch from the tick",
  async ({ sql, url }) => {
    if (await realExtension(sql)) return;
    const a = postgresSql(url!, { max: 1 }), b = postgresSql(url!, { max: 1 });
    try {
      let qb = "";
      await a.begin(async (ta) => {
        // A holds the compile lock to its commit, as a completion that made a queue does.
        await makeQueue(ta, "static_h");
        qb = await b.begin(async (tb) => {
          // Before migration 0273 this waited for A's commit.
          await tb.exec("set local lock_timeout = '5s'");
          const q = await makeQueue(tb, "static_i");
          await tb`select edgeflow._mq_send(${q}, array['{"n":1}'::jsonb], clock_timestamp())`;
          const got = await tb<{ message: { n: number } }>`
            select message from edgeflow._mq_read(${q}, 30, 1)`;
          assert.deepEqual(got.map((m) => m.message.n), [1], "through pgmq meanwhile");
          return q;
        });
      });
      assert.doesNotMatch(await body(sql, "_mq_read"), new RegExp(`when '${qb}' then`));
      await sql`select edgeflow.maintenance()`;
      for (const fn of ["_mq_read", "_mq_delete", "_mq_send", "_mq_set_vt"]) {
        assert.match(await body(sql, fn), new RegExp(`when '${qb}' then`), `${fn} after the tick`);
      }
    } finally {
      await a.end();
      await b.end();
    }
  },
  { only: "postgres" },
);

dbTest(
  "two transactions making different queues do not deadlock over the locks they hold",
  async ({ sql, url }) => {
    // Each holds a concurrency slot's lock (edgeflow._slot_lock) when it makes
    // a queue, as _start_steps does; A then wants B's. Before migration 0273 B
    // waited for A's queue lock while holding K2: a deadlock, one of them aborted.
    if (await realExtension(sql)) return;
    const a = postgresSql(url!, { max: 1 }), b = postgresSql(url!, { max: 1 });
    const k1 = `k1-${crypto.randomUUID()}`, k2 = `k2-${crypto.randomUUID()}`;
    try {
      let bHolds!: () => void;
      const bHolding = new Promise<void>((r) => (bHolds = r));
      let aMade!: () => void;
      const aMadeQueue = new Promise<void>((r) => (aMade = r));
      const ta = a.begin(async (tx) => {
        await tx`select edgeflow._slot_lock(${k1})`;
        await makeQueue(tx, "static_j");
        aMade();
        await bHolding;
        await tx`select edgeflow._slot_lock(${k2})`; // waits for B's commit
      });
      const tb = b.begin(async (tx) => {
        await aMadeQueue;
        await tx`select edgeflow._slot_lock(${k2})`;
        bHolds();
        await makeQueue(tx, "static_k");
      });
      await Promise.all([ta, tb]);
      const [{ n }] = await sql<{ n: number }>`
        select count(*)::int as n from edgeflow.handler_queues
         where handler in ('static_j', 'static_k')`;
      assert.equal(n, 2);
    } finally {
      await a.end();
      await b.end();
    }
  },
  { only: "postgres" },
);

dbTest("a tick with no new queue replaces none of the calls", async ({ sql }) => {
  await makeQueue(sql, "static_l");
  const versions = () =>
    sql<{ fn: string; xmin: string }>`
      select p.proname as fn, p.xmin::text as xmin from pg_catalog.pg_proc p
       where p.pronamespace = 'edgeflow'::regnamespace
         and p.proname in ('_mq_read', '_mq_delete', '_mq_send', '_mq_set_vt')
       order by p.proname`;
  const before = await versions();
  await sql`select edgeflow.maintenance()`;
  await sql`select edgeflow._mq_compile()`;
  assert.deepEqual(await versions(), before, "the same rows of pg_proc: nothing replaced");
});

dbTest(
  "a role that may not rewrite the calls still makes queues and moves messages",
  async ({ sql }) => {
    // The real extension lets only its owner make queues (pgmq.create adds the
    // tables to the extension): this is our pgmq's case, CI's second pass.
    const [{ real }] = await sql<{ real: boolean }>`
      select exists (select 1 from pg_extension where extname = 'pgmq') as real`;
    if (real) return;
    const role = `ef_mq_${crypto.randomUUID().slice(0, 8)}`;
    await sql.exec(`create role ${role};
      grant usage, create on schema edgeflow, pgmq to ${role};
      grant all on all tables in schema edgeflow, pgmq to ${role};
      grant all on all sequences in schema edgeflow, pgmq to ${role}`);
    try {
      const q = await sql.begin(async (tx) => {
        await tx.exec(`set local role ${role}`);
        const name = await makeQueue(tx, "static_e");
        await tx`select edgeflow._mq_send(${name}, array['{}'::jsonb], clock_timestamp())`;
        const got = await tx`select msg_id from edgeflow._mq_read(${name}, 30, 1)`;
        assert.equal(got.length, 1);
        return name;
      });
      assert.doesNotMatch(await body(sql, "_mq_read"), new RegExp(`when '${q}'`));
    } finally {
      await sql.exec(`drop owned by ${role}; drop role ${role}`);
    }
  },
  { only: "postgres" },
);

dbTest(
  "register and deploy make the handlers' queues: a run's steps make none",
  async ({ sql }) => {
    const queues = async () =>
      (await sql<{ q: string }>`
      select pool || '/' || queue || '/' || handler as q from edgeflow.handler_queues
       where handler like 'ahead_%' order by 1`).map((r) => r.q);
    const def = flowDef("ahead", [
      { slug: "ahead_a" },
      { slug: "nap", depends_on: ["ahead_a"], handler: "ahead_nap", sleep: 0 } as never,
      { slug: "ahead_b", depends_on: ["nap"] },
    ]);
    const v1 = await registerFlow(sql, def);
    // The default pool's default queue (ad hoc runs); a sleep has no queue.
    assert.deepEqual(await queues(), ["default/default/ahead_a", "default/default/ahead_b"]);
    await sql`insert into edgeflow.pools (name) values ('ahead_pool')`;
    const [{ r }] = await sql<{ r: { error?: string } }>`
    select edgeflow.upsert_deployment(${
      JSON.stringify({ name: "ahead-d", flow: "ahead", pool: "ahead_pool", queue: "q2" })
    }::text::jsonb) as r`;
    assert.equal(r.error, undefined, JSON.stringify(r));
    assert.deepEqual(await queues(), [
      "ahead_pool/q2/ahead_a",
      "ahead_pool/q2/ahead_b",
      "default/default/ahead_a",
      "default/default/ahead_b",
    ]);
    // A run starts its steps without making a queue.
    const before = await queues();
    await started(sql, v1.id, {});
    assert.deepEqual(await queues(), before);
    // A new version with a new handler: the deployment that follows it gets its queue too.
    await registerFlow(sql, flowDef("ahead", [{ slug: "ahead_a" }, { slug: "ahead_c" }]));
    assert.deepEqual((await queues()).filter((q) => q.endsWith("ahead_c")), [
      "ahead_pool/q2/ahead_c",
      "default/default/ahead_c",
    ]);
  },
);

dbTest(
  "a handler queue whose table is gone is made again by the tick, with its queued tasks",
  async ({ sql }) => {
    // A pg_dump of a database with the real pgmq extension leaves the queue
    // tables out (pgmq/pgmq#408): after a restore, every send failed.
    const v = await registerFlow(sql, flowDef("lost", [{ slug: "lost_a" }]));
    const runs = [await started(sql, v.id, {}), await started(sql, v.id, {})];
    const [{ q }] = await sql<{ q: string }>`
    select queue_name as q from edgeflow.handler_queues where handler = 'lost_a'`;
    const real = await realExtension(sql);
    if (real) await sql.exec(`alter extension pgmq drop sequence pgmq.q_${q}_msg_id_seq`);
    for (const t of [`q_${q}`, `a_${q}`]) {
      if (real) await sql.exec(`alter extension pgmq drop table pgmq.${t}`);
      await sql.exec(`drop table pgmq.${t}`);
    }
    await sql.exec(`delete from pgmq.meta where queue_name = '${q}'`);
    // The subflow queue is left out of such a dump too.
    if (real) await sql.exec(`alter extension pgmq drop sequence pgmq.q_ef_subflows_msg_id_seq`);
    for (const t of ["q_ef_subflows", "a_ef_subflows"]) {
      if (real) await sql.exec(`alter extension pgmq drop table pgmq.${t}`);
      await sql.exec(`drop table pgmq.${t}`);
    }
    // A lease that ran out on the lost queue: the sweep sends to it, and
    // failed there before the repair came first (0276).
    await sql`update edgeflow.tasks set status = 'RUNNING', attempts = 1, lease = gen_random_uuid(),
                                        lease_expires_at = edgeflow.now() - interval '1 minute'
               where run_id = ${runs[1]}::uuid`;
    await sql`select edgeflow.maintenance()`;
    const [{ subflows }] = await sql<{ subflows: boolean }>`
      select to_regclass('pgmq.q_ef_subflows') is not null as subflows`;
    assert.ok(subflows, "the subflow queue is back");
    const [{ exists }] = await sql<{ exists: boolean }>`
    select to_regclass(${`pgmq.q_${q}`}) is not null as exists`;
    assert.ok(exists, "the queue table is back");
    // Both queued tasks can be claimed again, each once.
    const [{ r }] = await sql<{ r: { run_id: string }[] }>`
    select edgeflow.claim_tasks('default', '["lost_a"]'::jsonb, 10, 'w') as r`;
    assert.deepEqual(r.map((t) => t.run_id).sort(), [...runs].sort());
    const [{ again }] = await sql<{ again: unknown[] }>`
    select edgeflow.claim_tasks('default', '["lost_a"]'::jsonb, 10, 'w') as again`;
    assert.deepEqual(again, []);
  },
);

dbTest(
  "two transactions making queues in different orders do not deadlock, on either pgmq",
  async ({ sql, url }) => {
    // On the real extension each new queue takes the extension's lock to
    // commit: A-then-B against B deadlocked before 0276 took one lock first.
    const a = postgresSql(url!, { max: 1 }), b = postgresSql(url!, { max: 1 });
    try {
      let aMade!: () => void;
      const aMadeFirst = new Promise<void>((r) => (aMade = r));
      const ta = a.begin(async (tx) => {
        await makeQueue(tx, "order_a");
        aMade();
        await new Promise((r) => setTimeout(r, 300)); // B is waiting by now
        await makeQueue(tx, "order_b");
      });
      const tb = b.begin(async (tx) => {
        await aMadeFirst;
        await makeQueue(tx, "order_b");
      });
      await Promise.all([ta, tb]);
      const [{ n }] = await sql<{ n: number }>`
        select count(*)::int as n from edgeflow.handler_queues where handler like 'order_%'`;
      assert.equal(n, 2);
    } finally {
      await a.end();
      await b.end();
    }
  },
  { only: "postgres" },
);

dbTest("register makes at most 32 queues ahead; the runs make the rest", async ({ sql }) => {
  // Each new queue holds some 30 locks to commit: 250 at once filled the lock table.
  const steps = Array.from(
    { length: 40 },
    (_, i) => ({ slug: `wide_${String(i).padStart(2, "0")}` }),
  );
  await registerFlow(sql, flowDef("wide", steps));
  const [{ n }] = await sql<{ n: number }>`
    select count(*)::int as n from edgeflow.handler_queues where handler like 'wide_%'`;
  assert.equal(n, 32);
});
