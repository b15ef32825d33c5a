/**
 * Sending one definition to the server and saying what happened to it:
 * created, unchanged, updated or a new version. `POST /register` tells by
 * itself (201 new version / 200 identical); `POST /deploy` and
 * `POST /deploy/pools` are upserts that answer 200 for any update, so we read
 * the object first and compare — a re-run that changes nothing must say so.
 */
import { type ApiClient, isMissingRoute, problemError } from "./client.ts";
import { seg } from "./command.ts";
import { CliError } from "./io.ts";

/** What happened to one object. */
export type Outcome = "created" | "unchanged" | "updated" | "new version" | "not applied";

/** One line of an apply summary. */
export interface Applied {
  kind: "pool" | "limit" | "flow" | "deployment";
  name: string;
  outcome: Outcome;
  /** Version, pool, or why it was not applied. */
  detail: string;
  /** The server's answer. */
  body?: unknown;
}

type Json = Record<string, unknown>;

/** `POST /register`: 201 is a new version (the first one: created), 200 an identical one. */
export async function applyFlow(api: ApiClient, flow: Json): Promise<Applied> {
  const name = String(flow.name ?? "?");
  const res = await api.request<Json>("POST", "/register", flow);
  if (res.status !== 200 && res.status !== 201) throw named(api, res, "flow", name);
  const version = Number(res.body.version);
  const outcome: Outcome = res.status === 200
    ? "unchanged"
    : version > 1
    ? "new version"
    : "created";
  return { kind: "flow", name, outcome, detail: `version ${version}`, body: res.body };
}

/** `POST /deploy`, compared with what the server held before. */
export async function applyDeployment(api: ApiClient, deployment: Json): Promise<Applied> {
  const name = String(deployment.name ?? "?");
  const before = await current(api, `/deploy/deployments/${seg(name)}`);
  const res = await api.request<Json>("POST", "/deploy", deployment);
  if (res.status !== 200 && res.status !== 201) throw named(api, res, "deployment", name);
  const detail = `flow ${res.body.flow}, pool ${res.body.pool}${res.body.paused ? ", paused" : ""}`;
  return {
    kind: "deployment",
    name,
    outcome: compare(res.status, before, res.body),
    detail,
    body: res.body,
  };
}

/** `POST /deploy/pools`, compared with what the server held before. */
export async function applyPool(api: ApiClient, pool: Json): Promise<Applied> {
  const name = String(pool.name ?? "?");
  const before = await current(api, `/deploy/pools/${seg(name)}`);
  const res = await api.request<Json>("POST", "/deploy/pools", pool);
  if (res.status !== 200 && res.status !== 201) throw named(api, res, "pool", name);
  const detail = `${res.body.type}${res.body.paused ? ", paused" : ""}`;
  return {
    kind: "pool",
    name,
    outcome: compare(res.status, before, res.body),
    detail,
    body: res.body,
  };
}

/**
 * `POST /deploy/concurrency-limits`. A server without the route yet gets a
 * "not applied" line instead of a failed import: flows and deployments still
 * go through, and the summary says what is missing.
 */
export async function applyLimit(api: ApiClient, limit: { tag: string; limit: number }) {
  const res = await api.request<Json>("POST", "/deploy/concurrency-limits", limit);
  if (isMissingRoute(res)) {
    return {
      kind: "limit",
      name: limit.tag,
      outcome: "not applied",
      detail: `limit ${limit.limit}: this server has no POST /deploy/concurrency-limits`,
    } satisfies Applied;
  }
  if (res.status !== 200 && res.status !== 201) throw named(api, res, "limit", limit.tag);
  return {
    kind: "limit",
    name: limit.tag,
    outcome: res.status === 201 ? "created" : "unchanged",
    detail: `limit ${limit.limit}`,
    body: res.body,
  } satisfies Applied;
}

/** The object as the server holds it now, or null when it does not exist. */
async function current(api: ApiClient, path: string): Promise<unknown> {
  const res = await api.request("GET", path);
  if (res.status === 404) return null;
  if (res.status !== 200) throw problemError(res, `GET ${path}`, api.hasKey);
  return res.body;
}

function compare(status: number, before: unknown, after: unknown): Outcome {
  if (status === 201 || before === null) return "created";
  return sameState(before, after) ? "unchanged" : "updated";
}

/**
 * Equal apart from bookkeeping the server rewrites on every upsert
 * (timestamps, generated ids, next fire times).
 */
export function sameState(a: unknown, b: unknown): boolean {
  return JSON.stringify(stable(a)) === JSON.stringify(stable(b));
}

const VOLATILE = new Set(["id", "created_at", "updated_at", "next_fire_at"]);

function stable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stable);
  if (typeof value !== "object" || value === null) return value;
  const entries = Object.entries(value).filter(([k]) => !VOLATILE.has(k));
  return Object.fromEntries(
    entries.sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, v]) => [k, stable(v)]),
  );
}

/** A failed apply, named after the object so a long import says which one broke. */
function named(
  api: ApiClient,
  res: { status: number; body: unknown },
  kind: string,
  name: string,
): CliError {
  const err = problemError(res, `${kind} ${name}`, api.hasKey);
  return new CliError(`${kind} ${name}: ${err.message}`, err.details, err.exitCode, err.document);
}
