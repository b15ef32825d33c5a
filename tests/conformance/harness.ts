/**
 * The conformance suite's harness: every case runs once per SDK, each SDK
 * driven through its adapter program (adapters/), a real process talking
 * real HTTP to a served edgeflow (server.ts). An adapter registers the same
 * handlers (echo, sleep, block, gate, fail, log) and prints the same JSON event
 * lines (started, task_start, done, failed, aborted, stopped, start_failed),
 * so a case says what a worker must do without knowing which SDK it drives.
 *
 * The database is Postgres when DATABASE_URL is set, PGlite otherwise: the
 * protocol does not depend on it, and one kind keeps the suite's minutes down.
 */
import type { AppConfig } from "../../shared/app/deps.ts";
import { databaseKinds, type TestDatabase } from "../support/db.ts";
import { ADMIN_KEY, sleep, ticker, until } from "../faults/harness.ts";
import { type Exchange, type ServedEdgeflow, serveEdgeflow } from "./server.ts";

export { ADMIN_KEY, until };

const here = (p: string) => new URL(p, import.meta.url).pathname;

/** How to start one SDK's adapter. */
export interface Adapter {
  name: string;
  /** The command line, or a reason the SDK cannot run here (the case is skipped loudly). */
  command(args: string[]): string[] | { skip: string };
}

let python: string | null | undefined;

/** The Python interpreter itself (not a pyenv shim, which costs a second per start). */
function pythonPath(): string | null {
  if (python !== undefined) return python;
  python = null;
  for (const name of [Deno.env.get("EDGEFLOW_PYTHON"), "python3", "python"]) {
    if (!name) continue;
    try {
      const out = new Deno.Command(name, {
        args: ["-c", "import sys; assert sys.version_info >= (3, 9); print(sys.executable)"],
        stdout: "piped",
        stderr: "null",
      }).outputSync();
      if (out.success) return python = new TextDecoder().decode(out.stdout).trim();
    } catch { /* not installed */ }
  }
  return python;
}

export const ADAPTERS: Adapter[] = [
  {
    name: "typescript",
    command: (args) => [
      Deno.execPath(),
      "run",
      "-A",
      "--no-check",
      here("./adapters/ts_worker.ts"),
      ...args,
    ],
  },
  {
    name: "python",
    command: (args) => {
      const py = pythonPath();
      return py
        ? [py, "-u", here("./adapters/python_worker.py"), ...args]
        : { skip: "python3 (>= 3.9) is not installed" };
    },
  },
];

/** One event line of an adapter. */
export interface AdapterEvent {
  event: string;
  worker: string;
  task?: string;
  attempt?: number;
  report?: string;
  reason?: string;
  status?: number | null;
  handler?: string;
}

/** An adapter process with its events as they come. */
export function spawnAdapter(
  adapter: Adapter,
  url: string,
  opts: { pool: string; worker: string; key?: string; capacity?: number },
) {
  const cmd = adapter.command([
    "--url",
    url,
    "--key",
    opts.key ?? ADMIN_KEY,
    "--pool",
    opts.pool,
    "--worker",
    opts.worker,
    "--capacity",
    String(opts.capacity ?? 1),
  ]);
  if (!Array.isArray(cmd)) throw new Error(cmd.skip);
  const child = new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "piped" })
    .spawn();
  const events: AdapterEvent[] = [];
  let stderr = "";
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      for (let nl; (nl = buffer.indexOf("\n")) >= 0; buffer = buffer.slice(nl + 1)) {
        const line = buffer.slice(0, nl);
        if (line.startsWith("{")) events.push(JSON.parse(line));
      }
    }
  })();
  const errors = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr = (stderr + chunk).slice(-8_000);
    }
  })();
  let exited: Deno.CommandStatus | null = null;
  const status = child.status.then(async (s) => {
    await Promise.all([reading.catch(() => {}), errors.catch(() => {})]);
    exited = s;
    return s;
  });
  return {
    events,
    get exited() {
      return exited;
    },
    get stderr() {
      return stderr;
    },
    status,
    /** Waits for an event matching `match`; fails with the adapter's stderr. */
    async event(what: string, match: (e: AdapterEvent) => boolean, timeoutMs = 30_000) {
      try {
        return await until(what, () => events.find(match) ?? (exited ? "exited" : undefined), {
          timeoutMs,
          everyMs: 20,
        }).then((e) => {
          if (e === "exited") throw new Error(`the adapter exited before ${what}`);
          return e as AdapterEvent;
        });
      } catch (err) {
        throw new Error(`${(err as Error).message}\nadapter stderr:\n${stderr}`);
      }
    },
    signal(sig: Deno.Signal) {
      try {
        child.kill(sig);
      } catch { /* gone */ }
    },
    async kill() {
      if (!exited) this.signal("SIGKILL");
      await status;
    },
  };
}

export type AdapterProcess = ReturnType<typeof spawnAdapter>;

/** What a case gets: a served edgeflow, its database, and helpers bound to one adapter. */
export interface CaseContext {
  served: ServedEdgeflow;
  db: TestDatabase;
  adapter: Adapter;
  /** A pool of its own with a flow of `steps` deployed in it; returns the deployment name. */
  flow(steps: Record<string, unknown>[]): Promise<string>;
  /** Starts the adapter serving `pool`; resolves once it said "started". */
  start(pool: string, opts?: { capacity?: number; worker?: string }): Promise<AdapterProcess>;
  trigger(deployment: string, parameters?: Record<string, unknown>): Promise<string>;
  /** Waits for the run to reach `status` (or any final status when omitted); returns it. */
  // deno-lint-ignore no-explicit-any
  waitRun(runId: string, status?: string): Promise<any>;
}

const FINAL = ["COMPLETED", "FAILED", "CANCELLED", "CRASHED"];

/** One test per adapter: `[typescript] name`, `[python] name`. */
export function conformance(
  name: string,
  fn: (c: CaseContext) => Promise<void>,
  config: Partial<AppConfig> = {},
  /** Adapters this case is known to fail for, with why: skipped, loudly. */
  knownGaps: Record<string, string> = {},
): void {
  for (const adapter of ADAPTERS) {
    const cmd = adapter.command([]);
    const skip = knownGaps[adapter.name] ?? (Array.isArray(cmd) ? null : cmd.skip);
    Deno.test({
      name: `[${adapter.name}] ${name}`,
      ignore: skip !== null,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: () => runCase(adapter, fn, config),
    });
    if (skip) console.warn(`SKIPPED [${adapter.name}] ${name}: ${skip}`);
  }
}

async function runCase(
  adapter: Adapter,
  fn: (c: CaseContext) => Promise<void>,
  config: Partial<AppConfig>,
): Promise<void> {
  const db = await databaseKinds().at(-1)!.open();
  const served = serveEdgeflow(db.sql, config);
  const stopTicker = ticker(served.call);
  const processes: AdapterProcess[] = [];
  try {
    await fn({
      served,
      db,
      adapter,
      async flow(steps) {
        const name = `c-${crypto.randomUUID().slice(0, 8)}`;
        await ok(served.call("POST", "/deploy/pools", { name }));
        await ok(served.call("POST", "/register", { name, steps }));
        await ok(served.call("POST", "/deploy", { name, flow: name, pool: name }));
        return name;
      },
      async start(pool, opts = {}) {
        const worker = opts.worker ?? `${adapter.name}-${crypto.randomUUID().slice(0, 6)}`;
        const p = spawnAdapter(adapter, served.url, { pool, worker, capacity: opts.capacity });
        processes.push(p);
        await p.event("the worker to start", (e) => e.event === "started");
        return p;
      },
      async trigger(deployment, parameters = {}) {
        const res = await ok(served.call("POST", `/trigger/${deployment}`, { parameters }));
        return res.body.run_id;
      },
      waitRun(runId, status) {
        return until(`run ${runId} to be ${status ?? "over"}`, async () => {
          const run = (await served.call("GET", `/trigger/runs/${runId}`)).body;
          return (status ? run.status === status : FINAL.includes(run.status)) && run;
        });
      },
    });
  } finally {
    await Promise.all(processes.map((p) => p.kill()));
    await stopTicker();
    await served.close();
    await sleep(0);
    await db.close();
  }
}

async function ok<T extends { status: number; body: unknown }>(p: Promise<T>): Promise<T> {
  const res = await p;
  if (res.status >= 300) throw new Error(`${res.status}: ${JSON.stringify(res.body)}`);
  return res;
}

/** The worker-protocol exchanges of `worker` (heartbeats), or of `task` (results). */
export function heartbeatsOf(served: ServedEdgeflow, worker: string) {
  return served.exchanges.filter((x) => x.path === "/heartbeat" && x.body?.worker === worker);
}

/**
 * The results sent for `task`, one per call that carried it: its own calls
 * (`/heartbeat/tasks/:task/…`) and its entries in batches (`POST
 * /heartbeat/tasks/complete` / `…/fail`, which both SDKs send by default),
 * each shown as the single call it stands for: that path, the entry as body,
 * and the entry's own status (a fault answers the whole call: its status).
 */
export function resultsOf(served: ServedEdgeflow, task: string): Exchange[] {
  const out: Exchange[] = [];
  for (const x of served.exchanges) {
    if (x.path.startsWith(`/heartbeat/tasks/${task}/`)) out.push(x);
    const kind = /^\/heartbeat\/tasks\/(complete|fail)$/.exec(x.path)?.[1];
    const entries: { task?: string }[] = Array.isArray(x.body?.results) ? x.body.results : [];
    const i = kind ? entries.findIndex((e) => e?.task === task) : -1;
    if (i < 0) continue;
    const { task: _, ...entry } = entries[i];
    const item = x.response?.results?.[i];
    out.push({
      ...x,
      path: `/heartbeat/tasks/${task}/${kind}`,
      body: entry,
      status: item?.status ?? x.status,
      response: item ?? x.response,
    });
  }
  return out;
}
