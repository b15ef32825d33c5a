/** The CLI as people run it: `deno run -A functions/cli.ts …` in a child process. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, fixture, serveApp } from "./harness.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function edgeflow(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "functions/cli.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

dbTest("the edgeflow process registers, lists as JSON and exits 1 on a 422", async (db) => {
  const server = serveApp(db);
  const dir = await Deno.makeTempDir();
  const env = { EDGEFLOW_URL: server.url, EDGEFLOW_KEY: ADMIN_KEY };
  try {
    const reg = await edgeflow(["register", fixture("flows.yaml")], env);
    assert.equal(reg.code, 0, reg.stderr);
    assert.match(reg.stdout, /^flow\s+hello\s+created\s+version 1$/m);
    assert.match(reg.stdout, /^flow\s+bye\s+created\s+version 1$/m);

    const ls = await edgeflow(["flows", "ls", "--json"], env);
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(JSON.parse(ls.stdout).flows.map((f: { name: string }) => f.name), [
      "bye",
      "hello",
    ]);

    await Deno.writeTextFile(
      `${dir}/cycle.yaml`,
      "name: loop\nsteps:\n  - slug: a\n    depends_on: [a]\n",
    );
    const bad = await edgeflow(["register", `${dir}/cycle.yaml`], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: flow loop: /m);
    assert.match(bad.stderr, /^ {2}steps\[0\]\.depends_on(\[0\])?: /m);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the edgeflow process: help, usage errors and the no-server import", async () => {
  const help = await edgeflow(["runs", "ls", "--help"], {});
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: edgeflow runs ls \[flags\]$/m);
  assert.match(help.stdout, /--status STATUS/);

  const usage = await edgeflow(["run"], {});
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^error: name a deployment, or a flow with --flow \(not both\)$/m);
  assert.match(usage.stderr, /^ {2}see edgeflow run --help$/m);

  const noop = await edgeflow(["import", "yaml", "examples/grepx/stock_pipeline.yaml"], {
    EDGEFLOW_URL: "",
  });
  assert.equal(noop.code, 0, noop.stderr);
  assert.match(noop.stdout, /^no server URL set \(--url or EDGEFLOW_URL\): nothing was deployed/);
  assert.match(
    noop.stdout,
    /^deployment\s+stock_data_pipeline_daily\s+pool default-process-pool, 1 schedule\(s\)$/m,
  );
});
