// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, json, runCli, serveApp } from "./harness.ts";

const TREX = "examples/trex/package.json";
const YAML = "examples/grepx/stock_pipeline.yaml";
// The registry rewrite and the image tag both apply (seed 000's environment).
const IMAGE = "registry.internal/myorg/workflows:1.4";
const TREX_ENV = {
  SYNC_CONCURRENCY: "3",
  PLUGINS_IMAGE_TAG: "1.4",
  PLUGINS_FLOW_CUSTOM_REPO_IMAGE_CONFIG:
    '{"current":"ghcr.io/myorg","new":"registry.internal/myorg"}',
};

dbTest(
  "import trex applies flows, deployments and the tag limit; a re-run changes nothing",
  async (db) => {
    const server = serveApp(db);
    try {
      const first = await server.cli(["import", "trex", TREX, "--json"], { env: TREX_ENV });
      const rows = json(first);
      const outcome = (r: any) => `${r.kind} ${r.name} ${r.outcome}`;
      const limit = rows.find((r: any) => r.kind === "limit");
      assert.equal(limit.name, "sync-limit");
      assert.equal(
        limit.detail.startsWith("limit 3"),
        true,
        "the limit comes from SYNC_CONCURRENCY",
      );
      // The limits route is another change; until it lands the CLI says so and exits 1.
      const limitsRoute = limit.outcome !== "not applied";
      if (limitsRoute) assert.equal(limit.outcome, "created");
      else {
        assert.match(first.stderr, /^error: 1 object\(s\) were not applied$/m);
        assert.match(first.stderr, /no POST \/deploy\/concurrency-limits/);
      }
      assert.equal(first.code, limitsRoute ? 0 : 1, first.stderr);
      assert.deepEqual(rows.filter((r: any) => r.kind !== "limit").map(outcome), [
        "flow data-sync created",
        "flow report-generator created",
        "deployment data-sync created",
        "deployment report-generator created",
      ]);

      const flows = json(await server.cli(["flows", "ls", "--json"])).flows;
      assert.deepEqual(flows.map((f: any) => [f.name, f.entrypoint, f.image, [...f.tags].sort()]), [
        ["data-sync", "flows/sync.py:run", IMAGE, ["scheduled", "sync", "sync-limit"]],
        ["report-generator", "flows/reports.py:generate", IMAGE, ["reports"]],
      ]);
      const dep = json(await server.cli(["deployments", "show", "data-sync", "--json"]));
      assert.equal(dep.pool, "default");
      assert.equal(dep.job_variables.image, IMAGE);
      assert.equal(dep.job_variables.pull_policy, "IfNotPresent");

      const second = await server.cli(["import", "trex", TREX], { env: TREX_ENV });
      assert.equal(second.code, limitsRoute ? 0 : 1, second.stderr);
      for (
        const [kind, name] of [
          ["flow", "data-sync"],
          ["flow", "report-generator"],
          ["deployment", "data-sync"],
          ["deployment", "report-generator"],
          ...(limitsRoute ? [["limit", "sync-limit"]] : []),
        ]
      ) {
        assert.match(second.stdout, new RegExp(`^${kind}\\s+${name}\\s+unchanged\\s`, "m"));
      }
      assert.equal(
        json(await server.cli(["flows", "show", "data-sync", "--json"])).versions.length,
        1,
      );
    } finally {
      await server.close();
    }
  },
);

dbTest(
  "import yaml creates the pool, a two-step flow and its weekday deployment; twice is a no-op",
  async (db) => {
    const server = serveApp(db);
    try {
      const first = await server.cli(["import", "yaml", YAML]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^pool\s+default-process-pool\s+created\s/m);
      assert.match(first.stdout, /^flow\s+stock_data_pipeline\s+created\s+version 1$/m);
      assert.match(first.stdout, /^deployment\s+stock_data_pipeline_daily\s+created\s/m);

      const flow = json(await server.cli(["flows", "show", "stock_data_pipeline", "--json"]));
      assert.deepEqual(flow.steps.map((s: any) => [s.slug, s.handler, s.depends_on]), [
        ["download_stock_data_task", "data.download_historical", []],
        ["calculate_indicators_task", "indicators.calculate_rsi", ["download_stock_data_task"]],
      ]);
      assert.deepEqual(flow.steps[0].args, { ticker: "AAPL", period: "1mo" });
      const dep = json(
        await server.cli(["deployments", "show", "stock_data_pipeline_daily", "--json"]),
      );
      assert.equal(dep.pool, "default-process-pool");
      assert.equal(dep.paused, false);
      // Schedules are stored once the schedules work has landed; check them when they are.
      if (dep.schedules.length) {
        assert.equal(dep.schedules[0].cron, "30 15 * * 1-5");
        assert.equal(dep.schedules[0].timezone, "Asia/Kolkata");
      }
      const pool = json(await server.cli(["pools", "ls", "--json"])).pools
        .find((p: any) => p.name === "default-process-pool");
      assert.equal(pool.concurrency_limit, 10);

      const again = await server.cli(["import", "yaml", YAML]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout.match(/ unchanged /g)?.length, 3, again.stdout);

      if (dep.schedules.length) {
        const target = ["stock_data_pipeline_daily", dep.schedules[0].id];
        const times = await server.cli(["schedules", "preview", ...target, "--count", "3"]);
        assert.equal(times.code, 0, times.stderr);
        assert.equal(times.stdout.trim().split("\n").length, 4, times.stdout);
        assert.match(
          times.stdout,
          /10:00:00\s+\S+T15:30:00\+05:30$/m,
          "15:30 in Kolkata is 10:00 UTC",
        );
        assert.equal((await server.cli(["schedules", "pause", ...target])).code, 0);
        // The file says the schedule is active: importing again switches it back on.
        const reapplied = await server.cli(["import", "yaml", YAML]);
        assert.match(reapplied.stdout, /^deployment\s+stock_data_pipeline_daily\s+updated\s/m);
      }
    } finally {
      await server.close();
    }
  },
);

dbTest("import waits for the pool it needs, and gives up when bounded", async (db) => {
  const server = serveApp(db);
  try {
    // The pool appears once the import says it is waiting for it (a timer raced a slow start).
    let created: Promise<unknown> | undefined;
    const onStderr = (text: string) => {
      if (created || !text.includes("waiting for pool gpu")) return;
      created = fetch(`${server.url}/deploy/pools`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "gpu" }),
      }).then((r) => r.body?.cancel());
    };
    const env = { ...TREX_ENV, PREFECT_POOL: "gpu" };
    const waited = await server.cli(["import", "trex", TREX, "--wait", "20"], { env, onStderr });
    await created;
    assert.match(
      waited.stderr,
      /waiting for pool gpu \(it does not exist yet\); retrying every 3 s/,
    );
    assert.match(waited.stdout, /^deployment\s+data-sync\s+created\s+flow data-sync, pool gpu$/m);

    const env2 = { ...TREX_ENV, PREFECT_POOL: "nowhere" };
    const gaveUp = await server.cli(["import", "trex", TREX, "--wait", "0"], { env: env2 });
    assert.equal(gaveUp.code, 1);
    assert.match(gaveUp.stderr, /^error: gave up waiting for pool nowhere after 0 s$/m);
    assert.equal(gaveUp.stdout, "", "nothing applied");
  } finally {
    await server.close();
  }
});

Deno.test("import without a server URL is a no-op that shows the plan", async () => {
  const res = await runCli(["import", "trex", TREX], { ...TREX_ENV });
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /^no server URL set \(--url or EDGEFLOW_URL\): nothing was deployed/);
  assert.match(
    res.stdout,
    new RegExp(`^flow\\s+data-sync\\s+${IMAGE.replaceAll(".", "\\.")}$`, "m"),
  );
  assert.match(res.stdout, /^limit\s+sync-limit\s+limit 3$/m);
});

Deno.test("import says when the server cannot be reached", async () => {
  const res = await runCli(
    ["import", "yaml", YAML, "--url", "http://127.0.0.1:9", "--wait", "0"],
    {},
  );
  assert.equal(res.code, 1);
  assert.match(res.stderr, /^error: gave up waiting for the server at http:\/\/127\.0\.0\.1:9/m);
});
