/**
 * The CLI tells why a run waits (issue 11, item 12): the run view names
 * the handler no online worker serves, and `worker start` warns about
 * queued work in its pool that it will not take and nobody else serves.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, type CliServer, fixture, json, serveApp } from "./harness.ts";
import { renderRun } from "../../shared/cli/run_view.ts";

const NO_WORKER =
  /^step extract waits: no worker online for handler etl\.extract in pool default$/m;

Deno.test("the run view prints one line per waiting step, under the table", () => {
  const text = renderRun({
    id: "r1",
    status: "PENDING",
    flow: "etl",
    version: 1,
    deployment: null,
    steps: [
      {
        slug: "extract",
        status: "QUEUED",
        waiting_for: {
          reason: "no_worker",
          message: "no worker online for handler etl.extract in pool default",
        },
      },
      { slug: "report", status: "PENDING", waiting_for: null },
    ],
  }, 0);
  const lines = text.split("\n");
  assert.match(lines[lines.length - 2], NO_WORKER);
  assert.equal(text.match(/waits:/g)?.length, 1);
});

dbTest("runs show and run --watch say which handler has no worker", async (db) => {
  const server = serveApp(db);
  try {
    assert.equal((await server.cli(["register", fixture("etl.json")])).code, 0);
    const started = json(
      await server.cli(["run", "--flow", "etl", "--param", "day=today", "--json"]),
    );
    const shown = await server.cli(["runs", "show", started.run_id]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, NO_WORKER);
    assert.doesNotMatch(shown.stdout, /step report waits/, "report waits for extract, as shown");

    // Watching (given up after a second): the first frame carries the line.
    const watched = await server.cli([
      "run",
      "--flow",
      "etl",
      "--param",
      "day=today",
      "--watch",
      "--timeout",
      "1",
    ]);
    assert.equal(watched.code, 1, watched.stderr);
    assert.match(watched.stdout, NO_WORKER);
    assert.match(watched.stderr, /is still PENDING after 1 s/);
  } finally {
    await server.close();
  }
});

/** Runs `worker start` on the fixture handlers until it says it is polling, then stops it. */
async function startAndStop(server: CliServer) {
  const stop = new AbortController();
  let seen = "";
  const res = await server.cli(["worker", "start", "--name", "w-warn", fixture("handlers.ts")], {
    shutdown: stop.signal,
    onStdout: (text) => {
      seen += text;
      // The start-up check comes before this line.
      if (/^worker w-warn polling pool default/m.test(seen)) stop.abort();
    },
  });
  assert.equal(res.code, 0, res.stderr);
  return res;
}

dbTest(
  "worker start warns about queued work for handlers it does not serve and no one else does",
  async (db) => {
    const server = serveApp(db);
    const dir = await Deno.makeTempDir();
    try {
      const orphan = { name: "orphan", steps: [{ slug: "load", handler: "etl.load" }] };
      await Deno.writeTextFile(`${dir}/orphan.json`, JSON.stringify(orphan));
      assert.equal(
        (await server.cli(["register", fixture("etl.json"), `${dir}/orphan.json`])).code,
        0,
      );
      for (let i = 0; i < 2; i++) {
        assert.equal((await server.cli(["run", "--flow", "orphan"])).code, 0);
      }
      // Queued work the fixture serves is no reason to warn.
      assert.equal((await server.cli(["run", "--flow", "etl", "--param", "day=x"])).code, 0);

      // Another online worker serves etl.load: nothing to warn about.
      const beat = await fetch(`${server.url}/heartbeat`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({
          worker: "loader",
          pool: "default",
          handlers: ["etl.load"],
          capacity: 0,
        }),
      });
      assert.equal(beat.status, 200, await beat.text());
      // Its liveness window is 3 s here (heartbeatSeconds 1): keep it inside, whatever the pace.
      await db.sql`update edgeflow.workers set last_heartbeat_at = now() + interval '1 hour'
                    where name = 'loader'`;
      const quiet = await startAndStop(server);
      assert.doesNotMatch(quiet.stderr, /warning:/);

      // The loader went away: the next worker says what will not run.
      await db.sql`update edgeflow.workers set last_heartbeat_at = now() - interval '1 hour'
                    where name = 'loader'`;
      const warned = await startAndStop(server);
      assert.match(
        warned.stderr,
        /^warning: pool default has 2 queued tasks for handler etl\.load, which this worker does not serve and no online worker does/m,
      );
      assert.equal(warned.stderr.match(/warning:/g)?.length, 1, "served handlers are not named");
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
