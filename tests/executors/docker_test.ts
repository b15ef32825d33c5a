// deno-lint-ignore-file no-explicit-any
/**
 * `worker start --executor docker` with real podman (runc; the image is
 * built locally, none can be pulled): trex's example package imported
 * unchanged runs its Python flows in containers to COMPLETED with the
 * functions' return values, a raising flow fails with the stderr tail, and
 * a cancel stops the container.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { serveApp } from "../cli/harness.ts";
import { api, runReaches, startWorker, waitFor, works } from "./helpers.ts";
import { trexImage } from "./image.ts";

const DOCKER = ["podman", "--runtime", "runc"];
const HAVE_PODMAN = works(DOCKER[0], [...DOCKER.slice(1), "info"]) && works("ldd", ["--version"]);
if (!HAVE_PODMAN) {
  console.warn(
    "SKIPPED docker_test: podman (with runc) is not usable here " +
      "(apt-get install -y podman runc; see .ci/run for containers.conf)",
  );
}

async function containersOf(run: string): Promise<string[]> {
  const out = await new Deno.Command(DOCKER[0], {
    args: [
      ...DOCKER.slice(1),
      "ps",
      "--filter",
      `label=edgeflow.run=${run}`,
      "--format",
      "{{.Names}}",
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean);
}

/** The run's log lines (`GET /trigger/runs/:id/logs`). */
async function logsOf(server: ReturnType<typeof serveApp>, run: string): Promise<any[]> {
  return (await api(server, "GET", `/trigger/runs/${run}/logs`)).body.logs;
}

const test = (name: string, fn: (db: any) => Promise<void>) =>
  HAVE_PODMAN ? dbTest(name, fn, { only: "pglite" }) : Deno.test({ name, ignore: true, fn() {} });

test("trex's package runs its Python flows in podman containers; a cancel stops one", async (db) => {
  const server = serveApp(db);
  const image = await trexImage(DOCKER);
  try {
    assert.equal(
      (await api(server, "POST", "/deploy/pools", { name: "docker-pool" })).status < 300,
      true,
    );
    // trex's own settings: the pool, and the tag and registry rewrite that
    // point the example's ghcr.io image at the one built here.
    const imported = await server.cli(["import", "trex", "examples/trex/package.json"], {
      env: {
        PREFECT_POOL: "docker-pool",
        PLUGINS_IMAGE_TAG: image.tag,
        PLUGINS_PULL_POLICY: "Never",
        PLUGINS_FLOW_CUSTOM_REPO_IMAGE_CONFIG:
          '{"current":"ghcr.io/myorg","new":"localhost/myorg"}',
        SYNC_CONCURRENCY: "2",
      },
    });
    assert.match(imported.stdout, /deployment\s+data-sync\s+created/, imported.stderr);
    const deployment = (await api(server, "GET", "/deploy/deployments/data-sync")).body;
    assert.equal(deployment.job_variables.image, `${image.repo}:${image.tag}`);

    const worker = startWorker(server, [
      "--pool",
      "docker-pool",
      "--executor",
      "docker",
      "--docker-bin",
      DOCKER.join(" "),
      "--capacity",
      "3",
    ]);
    try {
      const sync =
        (await api(server, "POST", "/trigger/data-sync", { parameters: { rows: 7 } })).body;
      const report = (await api(server, "POST", "/trigger/report-generator", {
        parameters: { title: "weekly" },
      })).body;
      const broken = (await api(server, "POST", "/trigger/report-generator", {
        parameters: { title: "broken", fail: true },
      })).body;
      const synced = await runReaches(server, sync.run_id, ["COMPLETED", "FAILED", "CRASHED"]);
      assert.equal(synced.status, "COMPLETED", JSON.stringify(synced.steps));
      // The function's return value is the run's step output.
      assert.deepEqual(synced.steps[0].output, { source: "crm", synced: 7 });
      // The container's stdout lines are the task's logs.
      const syncLogs = await logsOf(server, sync.run_id);
      assert.deepEqual(
        syncLogs.filter((l) => !l.message.startsWith("::edgeflow-result::"))
          .map((l) => [l.level, l.message, l.fields?.stream]),
        [
          ["info", "starting a sync from crm", "stdout"],
          ["info", "syncing 7 rows from crm", "stdout"],
        ],
      );
      const reported = await runReaches(server, report.run_id, ["COMPLETED", "FAILED", "CRASHED"]);
      assert.deepEqual(reported.steps[0].output, { title: "weekly", lines: 2 });
      // A raising flow: exit code 1, each attempt failed with the stderr tail, retried 3 times.
      const failed = await runReaches(server, broken.run_id, ["COMPLETED", "FAILED", "CRASHED"]);
      assert.equal(failed.status, "FAILED");
      assert.equal(failed.steps[0].attempts, 3);
      assert.match(
        failed.steps[0].error.message,
        /^container edgeflow-\S+ exited with code 1:\n[\s\S]*RuntimeError: report broken could not be generated$/,
      );
      // Its stderr (the traceback) is in the logs too, per attempt, as warnings.
      const failedLogs = await logsOf(server, broken.run_id);
      assert.deepEqual(
        failedLogs.filter((l) => l.message.includes("RuntimeError: report broken"))
          .map((l) => [l.attempt, l.level, l.fields?.stream]),
        [[1, "warn", "stderr"], [2, "warn", "stderr"], [3, "warn", "stderr"]],
      );

      // A long sync, cancelled while its container runs: the container is stopped.
      const slow = (await api(server, "POST", "/trigger/data-sync", {
        parameters: { sleep_seconds: 300 },
      })).body;
      await waitFor(
        "the container to run",
        async () => (await containersOf(slow.run_id)).length === 1 || undefined,
      );
      // Lines stream as they come: the first is readable while the container runs.
      await waitFor(
        "the running container's first line in the run's logs",
        async () =>
          (await logsOf(server, slow.run_id)).some((l) =>
            l.message === "starting a sync from crm"
          ) || undefined,
      );
      assert.equal((await containersOf(slow.run_id)).length, 1, "the container still runs");
      assert.equal((await api(server, "POST", `/trigger/runs/${slow.run_id}/cancel`)).status, 202);
      await waitFor(
        "the container to stop",
        async () => (await containersOf(slow.run_id)).length === 0 || undefined,
      );
      const status = (await api(server, "GET", `/trigger/runs/${slow.run_id}`)).body.status;
      assert.ok(["CANCELLING", "CANCELLED"].includes(status), status);
    } finally {
      const stopped = await worker.stop();
      // The container's stdout reached the worker's log, tagged with its task.
      assert.match(stopped.stderr, /info: syncing 7 rows from crm .*stream=stdout/);
    }
  } finally {
    await server.close();
  }
});
