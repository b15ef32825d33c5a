// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { fixture, json, serveApp } from "./harness.ts";

const broken = {
  name: "fragile",
  steps: [{ slug: "write", handler: "broken", max_attempts: 1 }],
};

dbTest(
  "run --watch follows a run a CLI worker completes, exit 0; a failed run exits 1",
  async (db) => {
    const server = serveApp(db);
    const dir = await Deno.makeTempDir();
    const stopWorker = new AbortController();
    let worker: Promise<{ code: number; stdout: string; stderr: string }> | undefined;
    try {
      await Deno.writeTextFile(`${dir}/fragile.json`, JSON.stringify(broken));
      await Deno.writeTextFile(`${dir}/fragile-dep.json`, '{"name":"fragile","flow":"fragile"}');
      for (
        const args of [
          ["register", fixture("etl.json"), `${dir}/fragile.json`],
          ["deploy", fixture("deployments.yaml"), `${dir}/fragile-dep.json`],
        ]
      ) {
        const res = await server.cli(args);
        assert.equal(res.code, 0, res.stderr);
      }

      worker = server.cli(
        [
          "worker",
          "start",
          "--pool",
          "default",
          "--capacity",
          "2",
          "--name",
          "w-cli",
          fixture("handlers.ts"),
        ],
        { shutdown: stopWorker.signal },
      );
      const run = await server.cli([
        "run",
        "etl-nightly",
        "--param",
        "day=2026-11-22",
        "--param",
        "n=3",
        "--watch",
        "--timeout",
        "60",
      ]);
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stderr, /^started run [0-9a-f-]{36}; watching/m);
      // The last frame: the run and both steps completed, as a table.
      const frames = run.stdout.split(/^(?=run )/m);
      const last = frames[frames.length - 1];
      assert.match(last, /^run [0-9a-f-]{36}\s+etl v1\s+deployment etl-nightly\s+COMPLETED\s/);
      assert.match(last, /^STEP\s+STATUS\s+TASKS\s+RETRIES\s+TIME\s+ERROR$/m);
      assert.match(last, /^extract\s+COMPLETED\s+1\s+0\s/m);
      assert.match(last, /^report\s+COMPLETED\s+1\s+0\s/m);

      const runs = json(await server.cli(["runs", "ls", "--json", "--limit", "5"]));
      assert.equal(runs.runs.length, 1);
      assert.equal(runs.runs[0].status, "COMPLETED");
      assert.deepEqual(
        runs.runs[0].parameters,
        { day: "2026-11-22", n: 3 },
        "n=3 is JSON, day a string",
      );
      const shown = json(await server.cli(["runs", "show", runs.runs[0].id, "--json"]));
      assert.deepEqual(shown.output, { report: { summary: { day: "2026-11-22", rows: 42 } } });

      const adHoc = await server.cli(["run", "--flow", "etl", "--param", "day=adhoc", "--watch"]);
      assert.equal(adHoc.code, 0, adHoc.stderr);
      assert.match(adHoc.stdout, /^run [0-9a-f-]{36}\s+etl v1\s+ad hoc\s+COMPLETED\s/m);

      const failed = await server.cli(["run", "fragile", "--watch", "--timeout", "60"]);
      assert.equal(failed.code, 1, failed.stdout);
      assert.match(failed.stdout, /^write\s+FAILED\s+1\s+0\s+\S+\s+the disk is full$/m);
      assert.match(failed.stderr, /^run FAILED/m);

      const filtered = json(await server.cli(["runs", "ls", "--status", "failed", "--json"]));
      assert.deepEqual(filtered.runs.map((r: any) => r.deployment), ["fragile"]);
      const workers = await server.cli(["workers", "ls"]);
      // CAPACITY is the free slots of its last heartbeat, so it varies.
      assert.match(workers.stdout, /^w-cli\s+default\s+ONLINE\s+\d+\s/m);
    } finally {
      stopWorker.abort();
      if (worker) {
        const w = await worker;
        assert.equal(w.code, 0, w.stderr);
        assert.match(
          w.stdout,
          /^worker w-cli polling pool default at .* for broken, etl\.extract, etl\.report/m,
        );
        assert.match(w.stdout, /^done\s+etl\.extract\s+run /m);
        assert.match(w.stdout, /^failed\s+broken\s+run .*: the disk is full$/m);
      }
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

dbTest("run --watch redraws in place on a terminal", async (db) => {
  const server = serveApp(db);
  try {
    await server.cli(["register", fixture("etl.json")]);
    await server.cli(["deploy", fixture("deployments.yaml")]);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 1500);
    // Nobody works on it: watching ends with Ctrl-C, and the run goes on.
    const res = await server.cli(["run", "etl-nightly", "--watch"], {
      terminal: true,
      shutdown: stop.signal,
    });
    assert.equal(res.code, 130);
    const redraw = `${String.fromCharCode(27)}[`; // ESC [: cursor up (nF), clear down (J)
    assert.match(res.stdout.split(redraw).slice(1).join("|"), /^\d+F\|J/, "old frame cleared");
    assert.match(res.stderr, /stopped watching; the run goes on: edgeflow runs show /);
  } finally {
    await server.close();
  }
});
