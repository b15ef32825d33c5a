/**
 * The CLI as the README installs and runs it, in child processes: the global
 * `edgeflow` from `deno install -g`, and no download on any call once the
 * dependencies are installed.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;
const text = new TextDecoder();

async function run(cmd: string, args: string[], env: Record<string, string> = {}, cwd = ROOT) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

Deno.test("the README's global install gives a working `edgeflow` (Deno 2: -g --config)", async () => {
  const root = await Deno.makeTempDir();
  try {
    // Exactly the README's command, into a throwaway DENO_INSTALL_ROOT.
    const install = await run(Deno.execPath(), [
      "install",
      "-g",
      "-A",
      "-f",
      "-n",
      "edgeflow",
      "--config",
      "deno.json",
      "--node-modules-dir=manual",
      "functions/cli.ts",
    ], { DENO_INSTALL_ROOT: root });
    assert.equal(install.code, 0, install.stderr);
    // The shim runs `deno`: put this Deno first on PATH, and call it from elsewhere.
    const path = `${root}/bin:${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}`;
    // An empty DENO_DIR: whatever the CLI needs must come from the install, not the network.
    const env = { PATH: path, DENO_DIR: `${root}/deno_dir` };
    const help = await run(`${root}/bin/edgeflow`, ["--help"], env, root);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: edgeflow <command>/m);
    assert.doesNotMatch(help.stderr, /Download/);
    const runs = await run(`${root}/bin/edgeflow`, ["runs", "ls", "--help"], env, root);
    assert.equal(runs.code, 0, runs.stderr);
    assert.match(runs.stdout, /^Usage: edgeflow runs ls/m);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a CLI call downloads nothing once `deno install` has run", async () => {
  // node_modules is installed; the Deno cache is empty (another DENO_DIR, a CI cache miss). With
  // `nodeModulesDir: auto` every call fetched the npm metadata of yaml and zod again.
  const dir = await Deno.makeTempDir();
  try {
    for (
      const args of [
        ["--help"],
        ["runs", "ls", "--help"],
        ["import", "yaml", "examples/grepx/stock_pipeline.yaml", "--dry-run"],
      ]
    ) {
      const out = await run(Deno.execPath(), ["task", "-q", "cli", ...args], {
        EDGEFLOW_URL: "",
        DENO_DIR: dir,
      });
      assert.equal(out.code, 0, out.stderr);
      assert.doesNotMatch(out.stderr, /Download/, `edgeflow ${args.join(" ")}: ${out.stderr}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
