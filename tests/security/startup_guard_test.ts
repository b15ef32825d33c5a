/**
 * Only the local dev server runs without auth; deployed runtimes refuse to
 * start with EDGEFLOW_AUTH_DISABLED or a short EDGEFLOW_ADMIN_KEY; the dev
 * banner never echoes a key the user chose (issue 10 items 15 and 16).
 */
import assert from "node:assert/strict";
import { configFromEnv } from "../../shared/app/deps.ts";
import { workerDeps } from "../../shared/runtime/cloudflare.ts";
import { startDevServer } from "../../shared/runtime/dev_server.ts";

const LONG_KEY = "a-long-enough-admin-key-0123456789";

Deno.test("configFromEnv refuses EDGEFLOW_AUTH_DISABLED outside the dev server", () => {
  for (const value of ["1", "true", "yes"]) {
    assert.throws(
      () => configFromEnv({ EDGEFLOW_AUTH_DISABLED: value, EDGEFLOW_ADMIN_KEY: LONG_KEY }),
      /EDGEFLOW_AUTH_DISABLED is set: only the local dev server/,
    );
  }
  assert.equal(configFromEnv({ EDGEFLOW_AUTH_DISABLED: "1" }, { dev: true }).authDisabled, true);
  assert.equal(configFromEnv({ EDGEFLOW_AUTH_DISABLED: "" }).authDisabled, false);
});

Deno.test("configFromEnv refuses an admin key shorter than 24 characters outside dev", () => {
  assert.throws(
    () => configFromEnv({ EDGEFLOW_ADMIN_KEY: "hunter2" }),
    /EDGEFLOW_ADMIN_KEY is 7 characters long: it must have at least 24/,
  );
  assert.equal(configFromEnv({ EDGEFLOW_ADMIN_KEY: "x".repeat(24) }).adminKey, "x".repeat(24));
  assert.equal(configFromEnv({ EDGEFLOW_ADMIN_KEY: "short" }, { dev: true }).adminKey, "short");
  assert.equal(configFromEnv({}).adminKey, undefined, "no admin key at all is fine");
});

Deno.test("the Cloudflare worker refuses to serve with auth disabled", () => {
  assert.throws(
    () => workerDeps({ DATABASE_URL: "postgres://x/y", EDGEFLOW_AUTH_DISABLED: "1" }),
    /EDGEFLOW_AUTH_DISABLED/,
  );
  assert.throws(
    () => workerDeps({ DATABASE_URL: "postgres://x/y", EDGEFLOW_ADMIN_KEY: "short" }),
    /at least 24/,
  );
});

Deno.test("a Supabase / deno serve function exits at start with auth disabled", async () => {
  const entry = new URL("../../functions/trigger/index.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", entry],
    env: {
      EDGEFLOW_AUTH_DISABLED: "1",
      // Nowhere to connect: the guard must refuse before any connection is tried.
      DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
      PORT: "0",
    },
    stdout: "piped",
    stderr: "piped",
    // Only a bound for a regression that would hang connecting; the guard exits at once.
    signal: AbortSignal.timeout(60_000),
  }).output();
  assert.notEqual(out.code, 0);
  assert.match(new TextDecoder().decode(out.stderr), /EDGEFLOW_AUTH_DISABLED is set/);
});

/** Start the dev server with `env`, capturing what it prints. */
async function devBanner(env: Record<string, string>): Promise<{ text: string; key: string }> {
  const dir = await Deno.makeTempDir();
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    const dev = await startDevServer(
      { PORT: "0", EDGEFLOW_DATA_DIR: dir, ...env },
      { exampleRun: false },
    );
    await dev.close();
    return { text: lines.join("\n"), key: dev.adminKey };
  } finally {
    console.log = log;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name: "the dev banner prints a generated admin key but never one from the environment",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const mine = await devBanner({ EDGEFLOW_ADMIN_KEY: "my-own-secret-admin-key-42" });
    assert.equal(mine.key, "my-own-secret-admin-key-42");
    assert.ok(!mine.text.includes("my-own-secret-admin-key-42"), mine.text);
    assert.match(mine.text, /admin key: +EDGEFLOW_ADMIN_KEY \(from your environment\)/);
    assert.match(mine.text, /Authorization: Bearer \$EDGEFLOW_ADMIN_KEY/);

    const generated = await devBanner({});
    assert.match(generated.key, /^dev-/);
    assert.ok(generated.text.includes(`admin key:  ${generated.key}`), generated.text);
  },
});
