/**
 * `deno task cf:dev`: the worker under `wrangler dev` (workerd) on this machine, with what wrangler
 * needs and does not find by itself in a fresh clone: `node_modules` (it bundles from there), a
 * migrated `DATABASE_URL` (workerd cannot run PGlite) and an admin key, passed as `--var` unless
 * `.dev.vars` already sets them. The key is the dev server's own (`.edgeflow/dev_admin_key`).
 */
import { devAdminKey } from "./dev_key.ts";

/** The wrangler the smoke test and the README use. */
export const WRANGLER = ["npx", "-y", "wrangler@4.86.0"];

/** `KEY=value` lines of a `.dev.vars` file (dotenv syntax, `#` comments, optional quotes). */
export function parseDevVars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = line.match(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/);
    if (!m) continue;
    const v = m[2];
    out[m[1]] = /^(["']).*\1$/.test(v) ? v.slice(1, -1) : v;
  }
  return out;
}

/** The `--var` flags for what `.dev.vars` leaves out; an error naming what is missing. */
export function devVarFlags(
  env: Record<string, string | undefined>,
  devVars: Record<string, string>,
  adminKey: string,
): string[] | Error {
  const flags: string[] = [];
  if (!devVars.DATABASE_URL) {
    if (!env.DATABASE_URL) {
      return new Error(
        "cf:dev needs a Postgres: set DATABASE_URL=postgres://… (or put it in .dev.vars); " +
          "workerd cannot run the embedded PGlite",
      );
    }
    flags.push("--var", `DATABASE_URL:${env.DATABASE_URL}`);
  }
  if (!devVars.EDGEFLOW_ADMIN_KEY) flags.push("--var", `EDGEFLOW_ADMIN_KEY:${adminKey}`);
  return flags;
}

async function step(cmd: string[], env?: Record<string, string>): Promise<void> {
  const { code } = await new Deno.Command(cmd[0], { args: cmd.slice(1), env }).spawn().status;
  if (code !== 0) throw new Error(`${cmd.join(" ")} exited with ${code}`);
}

/** Installs, migrates, then runs `wrangler dev --test-scheduled` with `args`; its exit code. */
export async function cfDev(env: Record<string, string | undefined>, args: string[]) {
  let devVars: Record<string, string> = {};
  try {
    devVars = parseDevVars(await Deno.readTextFile(".dev.vars"));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const key = env.EDGEFLOW_ADMIN_KEY || devVars.EDGEFLOW_ADMIN_KEY ||
    (await devAdminKey(".edgeflow")).key;
  const flags = devVarFlags(env, devVars, key);
  if (flags instanceof Error) {
    console.error(`error: ${flags.message}`);
    return 2;
  }
  const deno = Deno.execPath();
  await step([deno, "install"]);
  await step([deno, "run", "-A", "functions/migrate.ts"], {
    DATABASE_URL: devVars.DATABASE_URL || env.DATABASE_URL!,
  });
  console.log(
    "\n  wrangler dev: the dashboard is at http://127.0.0.1:8787/ui (sign in with the admin key)\n" +
      `  admin key: ${key}\n  the tick: curl "http://127.0.0.1:8787/__scheduled?cron=*+*+*+*+*"\n`,
  );
  const [cmd, ...rest] = WRANGLER;
  const child = new Deno.Command(cmd, {
    args: [...rest, "dev", "--test-scheduled", ...flags, ...args],
  })
    .spawn();
  return (await child.status).code;
}
