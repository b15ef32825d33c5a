/**
 * pgflow 0.8.1, the seed system, on its own SQL: the migrations shipped in
 * `npm:@pgflow/core@0.8.1` (`dist/supabase/migrations/`) applied in order to
 * a database of its own, with the real pgmq extension and a no-op
 * `realtime.send` (Supabase Realtime is not here). Its worker cycle is the
 * one its edge worker runs (`PgflowSqlClient`): `pgmq.read_with_poll` →
 * `pgflow.start_tasks` → one `pgflow.complete_task` per task, the tasks of
 * a batch completed concurrently. Poll settings are its flow worker's
 * defaults (max_poll_seconds 2, poll_interval_ms 100).
 */
import postgres from "postgres";
import {
  type Peer,
  progressGate,
  result,
  scratchDatabase,
  STEPS_PER_CHAIN,
  type Workload,
} from "./workload.ts";
import { hasPgmqExtension } from "./workload.ts";

const FLOW = "bench_chain";
const MIGRATIONS = new URL(
  "../../../node_modules/@pgflow/core/dist/supabase/migrations/",
  import.meta.url,
);

async function migrationFiles(): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(MIGRATIONS)) {
    if (e.isFile && e.name.endsWith(".sql")) names.push(e.name);
  }
  return names.sort();
}

export function pgflowPeer(serverUrl: string): Peer {
  let db: { url: string; drop(): Promise<void> } | undefined;
  let admin: postgres.Sql | undefined;
  return {
    name: "pgflow 0.8.1",
    cycle: "pgmq.read_with_poll → pgflow.start_tasks → pgflow.complete_task per task",
    async unavailable() {
      if (!await hasPgmqExtension(serverUrl)) {
        return "needs the real pgmq extension (install ../shared/vendor/pgmq-1.5.1)";
      }
      try {
        await migrationFiles();
      } catch {
        return "npm:@pgflow/core@0.8.1 is not installed (deno install)";
      }
      return null;
    },
    async setup() {
      db = await scratchDatabase(serverUrl, "bench_pgflow");
      admin = postgres(db.url, { max: 1, onnotice: () => {} });
      await admin.unsafe(`create schema realtime;
        create function realtime.send(payload jsonb, event text, topic text, private boolean)
          returns void language sql as 'select null::void'`);
      for (const f of await migrationFiles()) {
        await admin.unsafe(await Deno.readTextFile(new URL(f, MIGRATIONS)));
      }
      await admin`select pgflow.create_flow(${FLOW}, max_attempts => 3, base_delay => 1,
                                            timeout => 60)`;
      await admin`select pgflow.add_step(${FLOW}, 'a')`;
      await admin`select pgflow.add_step(${FLOW}, 'b', array['a'])`;
      await admin`select pgflow.add_step(${FLOW}, 'c', array['b'])`;
    },
    async measure(w: Workload) {
      const sql = admin!;
      await sql`truncate pgflow.step_tasks, pgflow.step_states, pgflow.runs, pgflow.workers cascade`;
      await sql`select pgmq.purge_queue(${FLOW})`;
      await sql`select count(*) from generate_series(1, ${w.chains}::int) i,
                  lateral pgflow.start_flow(${FLOW}, jsonb_build_object('i', i))`;
      await sql`analyze`;
      const clients = Array.from({ length: w.workers }, () => postgres(db!.url, { max: 1 }));
      const ids = await Promise.all(clients.map(async (c, i) => {
        const id = crypto.randomUUID();
        await c`insert into pgflow.workers (worker_id, queue_name, function_name)
                values (${id}, ${FLOW}, ${`bench-${i}`})`;
        return id;
      }));
      const gate = progressGate(w.chains * STEPS_PER_CHAIN);
      const t0 = performance.now();
      let t1 = t0;
      const loops = clients.map(async (c, i) => {
        while (!gate.done) {
          const msgs = await c`select msg_id from pgmq.read_with_poll(
            queue_name => ${FLOW}, vt => 30, qty => ${w.batch}, max_poll_seconds => 2,
            poll_interval_ms => 100)`;
          if (msgs.length === 0) continue;
          const tasks = await c`select * from pgflow.start_tasks(
            flow_slug => ${FLOW}, msg_ids => ${msgs.map((m) => m.msg_id)}::bigint[],
            worker_id => ${ids[i]}::uuid)`;
          await Promise.all(
            tasks.map((t) =>
              c`select pgflow.complete_task(run_id => ${t.run_id}::uuid,
                step_slug => ${t.step_slug}::text, task_index => ${t.task_index}::int,
                output => ${c.json({ step: t.step_slug })}::jsonb)`
            ),
          );
          gate.add(tasks.length);
          t1 = performance.now();
        }
      });
      Promise.all(loops).catch((e) => gate.fail(e));
      try {
        await gate.finished;
        await Promise.all(loops);
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
      const [check] = await sql`select count(*)::int as n from pgflow.runs
                                 where status = 'completed'`;
      if (check.n !== w.chains) throw new Error(`pgflow: ${check.n} of ${w.chains} runs completed`);
      return result(gate.count, t0, t1);
    },
    async close() {
      await admin?.end();
      await db?.drop();
    },
  };
}
