/** Canonical flow definitions for engine tests (what normalizeFlow produces). */
import type { FlowDefinition, StepDefinition } from "../../shared/engine/flows.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { startRun, type StartRunOptions } from "../../shared/engine/runs.ts";

/** Start a run and insist that it started; returns its id. */
export async function started(
  sql: Sql,
  versionId: string,
  parameters: Record<string, unknown> = {},
  opts: StartRunOptions = {},
): Promise<string> {
  const r = await startRun(sql, versionId, parameters, opts);
  if (r.error !== undefined) throw new Error(`run did not start: ${JSON.stringify(r)}`);
  return r.run_id;
}

export type StepInput = Partial<StepDefinition> & { slug: string };

export function flowDef(
  name: string,
  steps: StepInput[],
  extra: Partial<Omit<FlowDefinition, "steps">> = {},
): FlowDefinition {
  return {
    name,
    description: null,
    entrypoint: null,
    image: null,
    tags: [],
    parameters: null,
    settings: { heartbeat: true, lazarus: false, version_lock: true },
    ...extra,
    steps: steps.map((s) => ({
      handler: s.slug,
      depends_on: [],
      map: null,
      max_attempts: 3,
      base_delay: 0,
      timeout: 30,
      start_delay: 0,
      args: null,
      deployment: null,
      ...s,
    })),
  };
}
