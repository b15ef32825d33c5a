import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { flowDef } from "../support/flows.ts";
import { registerFlow } from "../../shared/engine/flows.ts";
import { postgresSql } from "../../shared/db/postgres.ts";
import { claimTasks, completeTask } from "../../shared/engine/tasks.ts";

dbTest(
  "4 concurrent claimers drain 2,000 tasks, each completed exactly once",
  async ({ sql, url }) => {
    const v = await registerFlow(
      sql,
      flowDef("drain", [{ slug: "src" }, {
        slug: "each",
        depends_on: ["src"],
        map: "src",
      }]),
    );
    // 2 runs × 1,000 map elements = 2,000 tasks (plus the 2 source tasks).
    for (let r = 0; r < 2; r++) {
      await sql`select edgeflow.start_run(${v.id}::uuid, '{}'::jsonb)`;
    }
    const sources = await claimTasks(sql, "default", ["src"], 10);
    for (const s of sources) {
      await completeTask(sql, s.task, s.lease, Array.from({ length: 1000 }, (_, i) => i));
    }

    const seen = new Map<string, number>();
    const claimers = Array.from({ length: 4 }, async (_, i) => {
      const own = postgresSql(url!, { max: 1 });
      try {
        for (let idle = 0; idle < 3;) {
          const batch = await claimTasks(own, "default", ["each"], 1 + (i % 3) * 7, `w${i}`);
          if (!batch.length) {
            idle++;
            await new Promise((r) => setTimeout(r, 20));
            continue;
          }
          idle = 0;
          for (const t of batch) {
            seen.set(t.task, (seen.get(t.task) ?? 0) + 1);
            const res = await completeTask(own, t.task, t.lease, t.input.item);
            assert.ok("ok" in res, JSON.stringify(res));
          }
        }
      } finally {
        await own.end();
      }
    });
    await Promise.all(claimers);

    assert.equal(seen.size, 2000);
    assert.ok([...seen.values()].every((n) => n === 1), "no task was handed out twice");
    const rows = await sql<{ status: string; n: number }>`
    select status, count(*)::int as n from edgeflow.runs group by status`;
    assert.deepEqual([...rows], [{ status: "COMPLETED", n: 2 }]);
    const [out] = await sql<{ len: number }>`
    select jsonb_array_length(output -> 'each')::int as len from edgeflow.runs limit 1`;
    assert.equal(out.len, 1000);
  },
  { only: "postgres" },
);
