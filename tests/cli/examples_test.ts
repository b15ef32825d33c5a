/**
 * Every example in examples/ runs with the command the README and its own
 * header document, as a user runs it: `edgeflow` processes against a served
 * edgeflow. The hello flow goes to COMPLETED under `edgeflow worker start`.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, serveApp } from "./harness.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const text = new TextDecoder();

/** `edgeflow <args>`: the README's `deno task cli`, i.e. `deno run -A functions/cli.ts`. */
function edgeflow(args: string[], env: Record<string, string>) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "functions/cli.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  });
}

async function run(args: string[], env: Record<string, string>) {
  const out = await edgeflow(args, env).output();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

dbTest(
  "examples/hello runs to COMPLETED under `edgeflow worker start --pool default examples/hello/handlers.ts`; a revoked key stops the worker",
  async (db) => {
    const server = serveApp(db);
    const admin = { EDGEFLOW_URL: server.url, EDGEFLOW_KEY: ADMIN_KEY };
    let worker: Deno.ChildProcess | undefined;
    try {
      for (const file of ["flow.json", "deployment.json"]) {
        const what = file === "flow.json" ? "register" : "deploy";
        const out = await run([what, `examples/hello/${file}`], admin);
        assert.equal(out.code, 0, out.stderr);
      }
      const made = await run(
        ["keys", "create", "--name", "hello-worker", "--scope", "worker", "--json"],
        admin,
      );
      assert.equal(made.code, 0, made.stderr);
      const workerKey = JSON.parse(made.stdout).key as string;

      worker = edgeflow(
        ["worker", "start", "--pool", "default", "examples/hello/handlers.ts"],
        { EDGEFLOW_URL: server.url, EDGEFLOW_KEY: workerKey },
      ).spawn();
      // Its banner names the handlers it serves: the flow's own names, nothing prefixed.
      const reader = worker.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let banner = "";
      while (!banner.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        banner += value;
      }
      const drained = (async () => {
        while (!(await reader.read()).done) { /* the rest of its output */ }
      })();
      assert.match(
        banner,
        /for hello\.greet, hello\.list_cities, hello\.summary, hello\.weather \(Ctrl-C stops\)/,
      );
      const watched = await run(["run", "hello-daily", "--watch"], admin);
      assert.equal(watched.code, 0, watched.stdout + watched.stderr);
      assert.match(watched.stdout, /COMPLETED/);
      const runs = await run(["runs", "ls", "--json"], admin);
      const last = JSON.parse(runs.stdout).runs[0];
      const shown = await run(["runs", "show", last.id, "--json"], admin);
      assert.deepEqual(JSON.parse(shown.stdout).output, {
        summary: { greeting: "Hello!", cities: 3, warmest: "New York" },
      });

      // The key is revoked under the running worker: it says so and exits, not retrying forever.
      await db.sql`update edgeflow.api_keys set revoked = true where name = 'hello-worker'`;
      const [stderr, ended] = await Promise.all([
        new Response(worker.stderr).text(),
        worker.status,
      ]);
      await drained;
      worker = undefined;
      assert.equal(ended.code, 1, stderr);
      assert.match(stderr, /^error: edgeflow at .* no longer knows the key/m);
    } finally {
      if (worker) {
        worker.kill("SIGTERM");
        await worker.status;
      }
      await server.close();
    }
  },
);

dbTest("examples/trex and examples/grepx import with the README's commands", async (db) => {
  const server = serveApp(db);
  const env = { EDGEFLOW_URL: server.url, EDGEFLOW_KEY: ADMIN_KEY };
  try {
    const trex = await run(["import", "trex", "examples/trex/package.json"], {
      ...env,
      SYNC_CONCURRENCY: "3",
      PLUGINS_IMAGE_TAG: "1.4",
      PLUGINS_FLOW_CUSTOM_REPO_IMAGE_CONFIG:
        '{"current":"ghcr.io/myorg","new":"registry.internal/myorg"}',
    });
    assert.equal(trex.code, 0, trex.stdout + trex.stderr);
    assert.match(trex.stdout, /^flow\s+data-sync\s+created/m);
    const grepx = await run(["import", "yaml", "examples/grepx/stock_pipeline.yaml"], env);
    assert.equal(grepx.code, 0, grepx.stdout + grepx.stderr);
    const show = await run(["flows", "show", "stock_data_pipeline"], env);
    assert.equal(show.code, 0, show.stderr);
  } finally {
    await server.close();
  }
});
