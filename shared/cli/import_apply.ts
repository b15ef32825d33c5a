/**
 * Applying an import plan (shared/imports) to a server, the way trex's flow
 * plugin deploys (seed 000, "Deployment Sequence"): wait until the server
 * answers and the pools the plan needs exist — retrying every 3 s, bounded —
 * then send pools → limits → flows → deployments, in that order, because
 * each kind may reference the ones before it. Every request is idempotent,
 * so re-running an import changes nothing and says so.
 */
import type { ImportIssue, ImportPlan } from "../imports/mod.ts";
import { type Applied, applyDeployment, applyFlow, applyLimit, applyPool } from "./apply.ts";
import { type ApiClient, problemError } from "./client.ts";
import { seg } from "./command.ts";
import { CliError, type CliIo } from "./io.ts";

/** How long and how often to wait for the server and its pools. */
export interface WaitOptions {
  /** Give up after this long (ms). */
  timeoutMs: number;
  /** Time between attempts (ms); trex waits 3 s. */
  intervalMs: number;
  /** Where progress goes (stderr). */
  note(text: string): void;
}

/**
 * Waits for health and pools, then applies the plan, pushing one line per
 * object onto `rows` as it goes — so after a failure the caller can still
 * show what went through.
 */
export async function applyPlan(
  io: CliIo,
  api: ApiClient,
  plan: ImportPlan,
  wait: WaitOptions,
  rows: Applied[],
): Promise<void> {
  const deadline = io.now() + wait.timeoutMs;
  await waitFor(io, wait, deadline, `the server at ${api.base}`, () => healthy(api));
  for (const pool of plan.requiredPools) {
    await waitFor(io, wait, deadline, `pool ${pool}`, () => poolExists(api, pool));
  }
  for (const pool of plan.pools) rows.push(await applyPool(api, { ...pool }));
  for (const limit of plan.limits) rows.push(await applyLimit(api, limit));
  for (const flow of plan.flows) rows.push(await applyFlow(api, { ...flow }));
  for (const d of plan.deployments) rows.push(await applyDeployment(api, { ...d }));
}

/** A check's verdict: ready, not yet (with why), or a failure waiting cannot fix. */
type Probe = { ready: true } | { ready: false; why: string };

async function waitFor(
  io: CliIo,
  wait: WaitOptions,
  deadline: number,
  what: string,
  probe: () => Promise<Probe>,
): Promise<void> {
  let announced = false;
  for (;;) {
    const result = await probe();
    if (result.ready) return;
    const left = deadline - io.now();
    if (left <= 0 || io.shutdown.aborted) {
      throw new CliError(
        `gave up waiting for ${what} after ${Math.round(wait.timeoutMs / 1000)} s`,
        [
          result.why,
          "raise the bound with --wait SECONDS",
        ],
      );
    }
    if (!announced) {
      wait.note(`waiting for ${what} (${result.why}); retrying every ${wait.intervalMs / 1000} s`);
      announced = true;
    }
    await io.sleep(Math.min(wait.intervalMs, left), io.shutdown);
  }
}

/** Both functions an import talks to answer their health check (Supabase serves them apart). */
async function healthy(api: ApiClient): Promise<Probe> {
  for (const fn of ["register", "deploy"]) {
    try {
      const res = await api.request("GET", `/${fn}/health`);
      if (res.status !== 200) {
        return { ready: false, why: `GET /${fn}/health answered ${res.status}` };
      }
    } catch (err) {
      return { ready: false, why: (err as CliError).details?.[0] ?? String(err) };
    }
  }
  return { ready: true };
}

async function poolExists(api: ApiClient, pool: string): Promise<Probe> {
  const res = await api.request("GET", `/deploy/pools/${seg(pool)}`);
  if (res.status === 200) return { ready: true };
  if (res.status === 404) return { ready: false, why: "it does not exist yet" };
  // A bad key or a broken server will not heal by waiting.
  throw problemError(res, `GET /deploy/pools/${pool}`, api.hasKey);
}

/** The error for a plan the importer refused: every issue with its path (and line). */
export function planError(source: string, errors: readonly ImportIssue[]): CliError {
  return new CliError(
    `${source} cannot be imported`,
    errors.map((e) => {
      const at = e.line !== undefined ? ` (line ${e.line}, column ${e.column})` : "";
      return `${e.path || "(document)"}${at}: ${e.message}`;
    }),
  );
}

/** What a plan would do, one line per object, for dry runs and the no-server case. */
export function planRows(plan: ImportPlan): { kind: string; name: string; detail: string }[] {
  return [
    ...plan.pools.map((p) => ({ kind: "pool", name: p.name, detail: p.type })),
    ...plan.limits.map((l) => ({ kind: "limit", name: l.tag, detail: `limit ${l.limit}` })),
    ...plan.flows.map((f) => ({
      kind: "flow",
      name: f.name,
      detail: f.steps?.length ? `${f.steps.length} steps` : (f.image ?? f.entrypoint ?? ""),
    })),
    ...plan.deployments.map((d) => ({
      kind: "deployment",
      name: d.name,
      detail: `pool ${d.pool}, ${d.schedules.length} schedule(s)${d.paused ? ", paused" : ""}`,
    })),
  ];
}
