/** Flow versions: register, archive, read. Thin calls to the SQL engine. */
import type { Sql } from "../db/sql.ts";

/** The canonical flow definition the database hashes (see shared/api normalizeFlow). */
export interface FlowDefinition {
  name: string;
  description: string | null;
  entrypoint: string | null;
  image: string | null;
  tags: string[];
  parameters: Record<string, unknown> | null;
  settings: { heartbeat: boolean; lazarus: boolean; version_lock: boolean };
  steps: StepDefinition[];
}

export interface StepDefinition {
  slug: string;
  handler: string;
  depends_on: string[];
  map: string | null;
  max_attempts: number;
  base_delay: number;
  timeout: number;
  start_delay: number;
  args: unknown;
  deployment: string | null;
  /** The child parameters template of a deployment step; absent (not null) when none,
   * so flows without one keep their hash. */
  parameters?: Record<string, unknown>;
  /** Issue 16; each absent (not null) when not given, so other flows keep their hash. */
  wait?: {
    event: string;
    key: string;
    match: Record<string, unknown>;
    timeout: number;
    lookback: number;
    on_timeout: "fail" | "continue";
  };
  sleep?: number | { until: string };
  concurrency?: { key: string; limit: number }[];
}

export interface Registered {
  id: string;
  name: string;
  version: number;
  hash: string;
  created: boolean;
}

/** Register a version; identical re-registration returns the existing one. */
export async function registerFlow(
  sql: Sql,
  def: FlowDefinition,
  opts: { idempotencyKey?: string | null; versionGroup?: string | null } = {},
): Promise<Registered> {
  const [row] = await sql<{ r: Registered }>`
    select edgeflow.register_flow(${JSON.stringify(def)}::text::jsonb, ${
    opts.idempotencyKey ?? null
  },
                                  ${opts.versionGroup ?? null}) as r`;
  return row.r;
}

/** Archive a version: its runs finish, no new run starts on it. */
export async function archiveFlowVersion(
  sql: Sql,
  name: string,
  version: number,
): Promise<{ error?: string; id?: string; archived?: boolean }> {
  const [row] = await sql<{ r: { error?: string; id?: string; archived?: boolean } }>`
    select edgeflow.archive_flow_version(${name}, ${version}::int) as r`;
  return row.r;
}

/** The version a new run of `name` uses: a pinned number, or the newest unarchived one. */
export async function resolveFlowVersion(
  sql: Sql,
  name: string,
  version?: number | null,
  versionGroup?: string | null,
): Promise<{ id: string; version: number; archived: boolean } | null> {
  const [row] = await sql<{ id: string; version: number; archived: boolean }>`
    select id, version, archived from edgeflow.flow_versions
     where flow_name = ${name}
       and (${version ?? null}::int is null or version = ${version ?? null}::int)
       and (${versionGroup ?? null}::text is null or (version_group = ${versionGroup ?? null}
                                                      and not archived))
     order by (${version ?? null}::int is null and archived), version desc
     limit 1`;
  return row ?? null;
}
