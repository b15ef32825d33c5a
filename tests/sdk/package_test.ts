// deno-lint-ignore-file no-explicit-any
/**
 * `@edgeflow/sdk` as published: `deno task build:sdk` builds sdk/ts/dist,
 * then the built ESM runs a worker and a client against a served edgeflow
 * from Node's test runner (imported by package name) and from Deno.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, serveApp } from "../cli/harness.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DIST = `${ROOT}sdk/ts/dist/`;

let built: Promise<void> | undefined;
function build(): Promise<void> {
  built ??= (async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "build:sdk"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  })();
  return built;
}

function hasNode(): boolean {
  try {
    return new Deno.Command("node", { args: ["--version"], stdout: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

dbTest("the built package runs a worker and a client under node --test", async (db) => {
  if (!hasNode()) {
    console.warn("SKIPPED: no node on PATH");
    return;
  }
  await build();
  const server = serveApp(db);
  const dir = await Deno.makeTempDir({ prefix: "edgeflow-sdk-node-" });
  try {
    await Deno.mkdir(`${dir}/node_modules/@edgeflow`, { recursive: true });
    await Deno.symlink(DIST, `${dir}/node_modules/@edgeflow/sdk`);
    await Deno.copyFile(`${ROOT}sdk/ts/test/package.test.mjs`, `${dir}/package.test.mjs`);
    const out = await new Deno.Command("node", {
      args: ["--test", "package.test.mjs"],
      cwd: dir,
      env: { EDGEFLOW_URL: server.url, EDGEFLOW_KEY: ADMIN_KEY },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    assert.match(text, /# pass 1/);

    // The .d.ts types, as a TypeScript user of the npm package sees them.
    await Deno.copyFile(`${ROOT}sdk/ts/test/consumer.ts`, `${dir}/consumer.ts`);
    await Deno.writeTextFile(
      `${dir}/tsconfig.json`,
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          lib: ["es2022", "dom"],
          types: [],
        },
        files: ["consumer.ts"],
      }),
    );
    const tsc = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "npm:typescript@5.9.3/tsc", "-p", "."],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(
      tsc.code,
      0,
      new TextDecoder().decode(tsc.stdout) + new TextDecoder().decode(tsc.stderr),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await server.close();
  }
}, { only: "pglite" });

dbTest("the built package's ESM runs a worker and a client on Deno", async (db) => {
  await build();
  const server = serveApp(db);
  try {
    // Deno finds the .d.ts through each module's @ts-self-types: a wrong option is a type error.
    const consumer = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(
      consumer,
      `import { createWorker } from "${DIST}esm/mod.js";\n` +
        `createWorker({ url: "http://x", key: "k", handlers: {}, capacity: "4" });\n`,
    );
    const check = await new Deno.Command(Deno.execPath(), {
      args: ["check", consumer],
      stdout: "piped",
      stderr: "piped",
    }).output();
    await Deno.remove(consumer);
    assert.equal(check.code, 1);
    assert.match(
      new TextDecoder().decode(check.stderr),
      /TS2322.*'string' is not assignable to type 'number'/s,
    );

    const sdk: any = await import(`${DIST}esm/mod.js`);
    const client = sdk.createClient({ url: server.url, key: ADMIN_KEY });
    await client.register({ name: "deno-chain", steps: [{ slug: "only", handler: "deno.only" }] });
    await client.deploy({ name: "deno-chain", flow: "deno-chain" });
    const worker = sdk.createWorker({
      url: server.url,
      key: ADMIN_KEY,
      logger: sdk.silentLogger,
      handlers: { "deno.only": (ctx: any) => ({ got: ctx.input.run.x, runtime: "deno" }) },
    });
    await worker.start();
    try {
      const { run_id } = await client.trigger("deno-chain", { x: 7 });
      const run = await client.waitForRun(run_id, { timeoutMs: 60_000, intervalMs: 100 });
      assert.equal(run.status, "COMPLETED");
      assert.deepEqual(run.steps[0].output, { got: 7, runtime: "deno" });
    } finally {
      await worker.stop();
    }
  } finally {
    await server.close();
  }
}, { only: "pglite" });
