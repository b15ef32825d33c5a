// deno-lint-ignore-file no-explicit-any
/**
 * `worker start --executor process`: trex's flows as local Python processes
 * (Prefect's process worker), from the deployment's `working_dir` and `env`,
 * through the runner in runners/python/. No container runtime needed.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { serveApp } from "../cli/harness.ts";
import { api, ROOT, runReaches, startWorker, waitFor, works } from "./helpers.ts";

const HAVE_PYTHON = works("python3", ["--version"]);
if (!HAVE_PYTHON) console.warn("SKIPPED process_test: no python3 on PATH");

/** The pid of a running `edgeflow_run.py flows/sync.py:run`, if any. */
async function flowPid(): Promise<string | undefined> {
  const ps = await new Deno.Command("pgrep", {
    args: ["-f", "edgeflow_run.py flows/sync.py:run"],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(ps.stdout).split("\n").filter(Boolean)[0];
}

/** True once process `pid` has ended. */
async function gone(pid: string): Promise<true | undefined> {
  try {
    await Deno.stat(`/proc/${pid}`);
    return undefined;
  } catch {
    return true;
  }
}

const test = (name: string, fn: (db: any) => Promise<void>) =>
  HAVE_PYTHON ? dbTest(name, fn, { only: "pglite" }) : Deno.test({ name, ignore: true, fn() {} });

test("the process executor runs trex's flows as Python processes; a cancel or a lost lease ends one", async (db) => {
  // The processes inherit the worker's environment: a PYTHONUNBUFFERED set
  // there (this machine sets it) would hide whether the executor asks for it.
  const unbuffered = Deno.env.get("PYTHONUNBUFFERED");
  Deno.env.delete("PYTHONUNBUFFERED");
  const server = serveApp(db);
  try {
    const imported = await server.cli(["import", "trex", "examples/trex/package.json"], {
      env: { SYNC_CONCURRENCY: "2" },
    });
    assert.match(imported.stdout, /deployment\s+data-sync\s+created/, imported.stderr);
    // Prefect's process worker reads `working_dir` from the job variables.
    for (const name of ["data-sync", "report-generator"]) {
      const d = (await api(server, "GET", `/deploy/deployments/${name}`)).body;
      const res = await api(server, "POST", "/deploy", {
        name,
        flow: d.flow,
        pool: d.pool,
        job_variables: { working_dir: `${ROOT}examples/trex` },
      });
      assert.ok(res.status < 300, JSON.stringify(res.body));
    }
    const worker = startWorker(server, [
      "--pool",
      "default",
      "--executor",
      "process",
      "--capacity",
      "2",
    ]);
    try {
      const sync = (await api(server, "POST", "/trigger/data-sync", {
        parameters: { rows: 4, source: "erp" },
      })).body;
      const done = await runReaches(server, sync.run_id, ["COMPLETED", "FAILED", "CRASHED"]);
      assert.equal(done.status, "COMPLETED", JSON.stringify(done.steps));
      assert.deepEqual(done.steps[0].output, { source: "erp", synced: 4 });
      // The process's stdout lines are the task's logs (the result line too: it is output).
      const lines = (await api(server, "GET", `/trigger/runs/${sync.run_id}/logs`)).body.logs;
      assert.deepEqual(
        lines.filter((l: any) => !l.message.startsWith("::edgeflow-result::"))
          .map((l: any) => [l.level, l.message, l.fields?.stream]),
        [
          ["info", "starting a sync from erp", "stdout"],
          ["info", "syncing 4 rows from erp", "stdout"],
        ],
      );

      const slow = (await api(server, "POST", "/trigger/data-sync", {
        parameters: { sleep_seconds: 300 },
      })).body;
      const pid = await waitFor("the flow's process", () => flowPid());
      // Lines stream as they come: the first is readable while the process still runs.
      await waitFor(
        "the running process's first line in the run's logs",
        async () =>
          (await api(server, "GET", `/trigger/runs/${slow.run_id}/logs`)).body.logs
            .some((l: any) => l.message === "starting a sync from crm") || undefined,
      );
      assert.equal(await gone(pid), undefined, "the process still runs");
      assert.equal((await api(server, "POST", `/trigger/runs/${slow.run_id}/cancel`)).status, 202);
      await waitFor("the process to end", () => gone(pid));

      // A lost lease (the task was handed to another worker: its lease is no
      // longer ours) ends the process too, on the worker's next heartbeat.
      const lost = (await api(server, "POST", "/trigger/data-sync", {
        parameters: { sleep_seconds: 300, rows: 1 },
      })).body;
      const pid2 = await waitFor("the second flow's process", () => flowPid());
      await db.sql`update edgeflow.tasks set lease = gen_random_uuid()
                    where run_id = ${lost.run_id}::uuid and status = 'RUNNING'`;
      await waitFor("the process to end after its lease was lost", () => gone(pid2));
    } finally {
      await worker.stop();
    }
  } finally {
    await server.close();
    if (unbuffered !== undefined) Deno.env.set("PYTHONUNBUFFERED", unbuffered);
  }
});
