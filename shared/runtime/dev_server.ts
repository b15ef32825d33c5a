// deno-lint-ignore-file no-explicit-any
/**
 * `deno task dev`: a whole edgeflow on one machine. Migrates the embedded
 * PGlite (or DATABASE_URL), serves every function, ticks the scheduler every
 * few seconds, registers and deploys the example flow, runs an in-process
 * worker for its handlers, and triggers a run so a newcomer sees it finish.
 */
import { createApp } from "../app/app.ts";
import { runTick } from "../app/tick.ts";
import { migrate, pgmqMode } from "../db/migrate.ts";
import { createWorker } from "../worker/mod.ts";
import { denoDeps } from "./deno_deps.ts";
import { loadMigrations } from "./migrations_fs.ts";
import { devAdminKey } from "./dev_key.ts";
import * as example from "../../examples/hello/handlers.ts";
import { handlersOf } from "../cli/commands/worker.ts";

const EXAMPLE = new URL("../../examples/hello/", import.meta.url);

export interface DevServer {
  url: string;
  adminKey: string;
  close(): Promise<void>;
}

/** Start everything; resolves once the server listens and the example is deployed. */
export async function startDevServer(
  env: Record<string, string | undefined> = Deno.env.toObject(),
  opts: { quiet?: boolean; exampleRun?: boolean } = {},
): Promise<DevServer> {
  const say = opts.quiet ? () => {} : (line: string) => console.log(line);
  const dataDir = env.EDGEFLOW_DATA_DIR ?? ".edgeflow";
  await Deno.mkdir(dataDir, { recursive: true });
  const { key: adminKey } = await devAdminKey(dataDir, env.EDGEFLOW_ADMIN_KEY || undefined);
  // A key the dev server made (now or on an earlier start) is printed; the user's own is not.
  const generated = !env.EDGEFLOW_ADMIN_KEY;
  const deps = await denoDeps({ ...env, EDGEFLOW_ADMIN_KEY: adminKey }, undefined, { dev: true });
  const migrated = await migrate(deps.db, await loadMigrations(), { pgmq: pgmqMode(env) });
  const where = env.DATABASE_URL
    ? "DATABASE_URL"
    : `embedded PGlite (${env.EDGEFLOW_DATA_DIR ?? ".edgeflow/"})`;
  say(
    `database: ${where}, ` +
      `${migrated.applied.length} migration(s) applied`,
  );

  const app = createApp(deps);
  const port = Number(env.PORT ?? 8000);
  const server = Deno.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;

  // The edge cron, locally: one tick every 5 s.
  const ticker = setInterval(() => {
    runTick(deps, undefined as never).catch((err) => console.error("tick failed:", err));
  }, 5_000);

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const flow = JSON.parse(await Deno.readTextFile(new URL("flow.json", EXAMPLE)));
  const deployment = JSON.parse(await Deno.readTextFile(new URL("deployment.json", EXAMPLE)));
  const registered = await api("POST", "/register", flow);
  const deployed = await api("POST", "/deploy", deployment);
  say(`example flow "hello" v${registered.version} registered, deployment "hello-daily" ready`);
  for (const s of deployed.schedules ?? []) {
    say(
      `  schedule ${s.cron ?? s.rrule ?? `every ${s.interval} s`} (${s.timezone ?? "UTC"}): ` +
        `next run at ${s.next_fire_at}, created by the tick (every 5 s here)`,
    );
  }

  const worker = createWorker({
    url,
    key: adminKey,
    pool: "default",
    name: "dev-worker",
    handlers: handlersOf(example),
    capacity: 4,
  });
  await worker.start();

  say("");
  say(`  edgeflow is running at ${url}`);
  say(`  dashboard:  ${url}/ui`);
  // A key the user chose is theirs to know; echoing it would put it in terminal logs.
  const shownKey = generated ? adminKey : "$EDGEFLOW_ADMIN_KEY";
  say(`  admin key:  ${generated ? adminKey : "EDGEFLOW_ADMIN_KEY (from your environment)"}`);
  say(`  trigger:    curl -X POST ${url}/trigger/hello-daily \\`);
  say(`                -H "Authorization: Bearer ${shownKey}" \\`);
  say(`                -d '{"parameters":{"cities":["Lisbon","Oslo"]}}'`);
  say("");

  if (opts.exampleRun !== false) {
    const run = await api("POST", "/trigger/hello-daily", {});
    say(`example run ${run.run_id} triggered; watching it:`);
    await watchRun(api, run.run_id, say);
  }

  return {
    url,
    adminKey,
    close: async () => {
      clearInterval(ticker);
      await worker.stop();
      await server.shutdown();
      await deps.db.end();
    },
  };
}

/** Print each step as it changes state until the run ends (bounded: 60 s). */
async function watchRun(
  api: (m: string, p: string) => Promise<any>,
  runId: string,
  say: (line: string) => void,
): Promise<void> {
  const seen = new Map<string, string>();
  for (let i = 0; i < 600; i++) {
    const run = await api("GET", `/trigger/runs/${runId}`);
    for (const step of run.steps as { slug: string; status: string; tasks: number }[]) {
      if (seen.get(step.slug) !== step.status) {
        seen.set(step.slug, step.status);
        say(
          `  ${step.slug.padEnd(12)} ${step.status}${
            step.tasks > 1 ? ` (${step.tasks} tasks)` : ""
          }`,
        );
      }
    }
    if (["COMPLETED", "FAILED", "CANCELLED", "CRASHED"].includes(run.status)) {
      say(`run ${run.status}: ${JSON.stringify(run.output ?? run.error)}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
