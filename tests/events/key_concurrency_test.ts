/**
 * Per-key concurrency of a deployment (issue 16): `concurrency: [{key:
 * "{{ run.customer }}", limit: 1}]` holds one slot per rendered key; with
 * `enqueue`, waiting runs are admitted round robin across keys, so a burst
 * of one customer does not make the others wait behind it.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";
import { claimTasks, completeTask } from "../../shared/engine/tasks.ts";
import { deploy } from "../limits/helpers.ts";
import { register } from "./helpers.ts";

const KEYS = ["A", "B", "C"];
const PER_KEY = 30;

dbTest("3 keys × 30 runs: never more than 1 per key, admitted round robin", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  await register(call, { name: "invoice", steps: [{ slug: "bill" }] });
  await deploy(call, {
    name: "invoice",
    flow: "invoice",
    concurrency_limit: 2,
    concurrency: [{ key: "{{ run.customer }}", limit: 1 }],
  });
  // Bursts, heaviest first: every A, then every B, then every C.
  const customerOf = new Map<string, string>();
  for (const customer of KEYS) {
    for (let i = 0; i < PER_KEY; i++) {
      const res = await call("POST", "/trigger/invoice", { parameters: { customer, i } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      customerOf.set(res.body.run_id, customer);
    }
  }

  let done = 0;
  for (let round = 0; done < KEYS.length * PER_KEY; round++) {
    assert.ok(round < 200, "the runs finish");
    const [over] = await sql<{ n: number }>`
      select count(*)::int as n from (select limit_key from edgeflow.slots
                                       group by limit_key
                                      having count(*) > case when limit_key like 'dkey:%'
                                                             then 1 else 2 end) o`;
    assert.equal(over.n, 0, "no key over its limit, the deployment within its own");
    const claimed = await claimTasks(sql, "default", null, 10);
    const running = claimed.map((t) => customerOf.get(t.run_id)!);
    assert.ok(running.length <= 2, `round ${round}: ${running}`);
    assert.equal(new Set(running).size, running.length, `round ${round}: one per key`);
    for (const t of claimed) {
      assert.ok("ok" in await completeTask(sql, t.task, t.lease, null));
      done++;
    }
  }

  // The order runs were admitted in (their SCHEDULED → PENDING in the event log).
  const admitted = await sql<{ run_id: string }>`
    select run_id::text from edgeflow.events
     where kind = 'run' and from_status = 'SCHEDULED' and to_status = 'PENDING' order by id`;
  const order = admitted.map((r) => customerOf.get(r.run_id)).join("");
  console.log(`admission order: ${order}`);
  assert.equal(order, "ABC".repeat(PER_KEY), "round robin, not first come first served");
  const [{ n }] = await sql<{ n: number }>`select count(*)::int as n from edgeflow.slots`;
  assert.equal(n, 0, "every slot given back");
});

dbTest(
  "per-key cancel_new cancels a run of a busy key and admits one of a free key",
  async (db) => {
    const { call } = testApp(db);
    await register(call, { name: "sync", steps: [{ slug: "s" }] });
    await deploy(call, {
      name: "sync",
      flow: "sync",
      collision_strategy: "cancel_new",
      concurrency: [{ key: "{{ run.repo }}", limit: 1 }],
    });
    const status = async (repo: string) =>
      (await call("POST", "/trigger/sync", { parameters: { repo } })).body.status;
    assert.equal(await status("a"), "PENDING");
    assert.equal(await status("a"), "CANCELLED");
    assert.equal(await status("b"), "PENDING");
  },
);

dbTest(
  "a step's per-key concurrency: one instance per key at once, the rest in line",
  async (db) => {
    const { sql } = db;
    const { call } = testApp(db);
    await register(call, {
      name: "report",
      steps: [
        { slug: "fetch" },
        {
          slug: "render",
          depends_on: ["fetch"],
          concurrency: [{ key: "{{ run.customer }}", limit: 1 }],
        },
      ],
    });
    const customerOf = new Map<string, string>();
    for (let i = 0; i < 10; i++) {
      for (const customer of KEYS) {
        const res = await call("POST", "/trigger/flows/report", { parameters: { customer } });
        assert.equal(res.status, 201);
        customerOf.set(res.body.run_id, customer);
      }
    }
    let rendered = 0;
    for (let round = 0; rendered < 30; round++) {
      assert.ok(round < 200, "the runs finish");
      const claimed = await claimTasks(sql, "default", null, 50);
      const renders = claimed.filter((t) => t.step === "render").map((t) =>
        customerOf.get(t.run_id)
      );
      assert.equal(new Set(renders).size, renders.length, `round ${round}: one render per key`);
      const [{ held }] = await sql<{ held: number }>`
      select coalesce(max(n), 0)::int as held from (select count(*) as n from edgeflow.slots
                                                     where limit_key like 'skey:%'
                                                     group by limit_key) c`;
      assert.ok(held <= 1, `round ${round}: ${held} slots of one key`);
      if (round === 0) {
        // Runs whose render is in line hold no task: the sweep must not crash them.
        await call("POST", "/trigger/tick");
      }
      for (const t of claimed) {
        assert.ok("ok" in await completeTask(sql, t.task, t.lease, null));
        if (t.step === "render") rendered++;
      }
    }
    const [left] = await sql<{ slots: number; queued: number; open: number }>`
    select (select count(*)::int from edgeflow.slots) as slots,
           (select count(*)::int from edgeflow.step_key_queue) as queued,
           (select count(*)::int from edgeflow.runs where status <> 'COMPLETED') as open`;
    assert.deepEqual(left, { slots: 0, queued: 0, open: 0 });
  },
);

dbTest("a cancelled run leaves the line and gives its key to the next", async (db) => {
  const { sql } = db;
  const { call } = testApp(db);
  await register(call, {
    name: "one",
    steps: [{ slug: "s", concurrency: [{ key: "{{ run.k }}", limit: 1 }] }],
  });
  const ids = [];
  for (let i = 0; i < 3; i++) {
    ids.push((await call("POST", "/trigger/flows/one", { parameters: { k: "x" } })).body.run_id);
  }
  const [first] = await claimTasks(sql, "default", null, 10);
  assert.equal(first.run_id, ids[0], "only the first has a task");
  await call("POST", `/trigger/runs/${ids[1]}/cancel`);
  assert.ok("ok" in await completeTask(sql, first.task, first.lease, null));
  const [next] = await claimTasks(sql, "default", null, 10);
  assert.equal(next?.run_id, ids[2], "the key went to the third, past the cancelled second");
});
