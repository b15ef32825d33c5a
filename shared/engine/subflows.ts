/**
 * Subflows: steps with `deployment` run a child deployment (migrations
 * 0040–0044, 0055). Settling parent tasks when children end and cancelling
 * children with their parent happen in SQL, in the transactions of the state
 * changes that cause them. Starting a child happens here, in TypeScript,
 * because its parameters are built from the step's `parameters` template and
 * must pass the child flow's full JSON Schema (0055's header says why SQL
 * does not do it).
 *
 * Every SQL call that can make a subflow step ready (start a run, complete a
 * task) also reads `edgeflow.subflows_due()` in its statement; when it is
 * true the caller runs `startDueSubflows` before answering, so a child exists
 * as soon as the request that made its step ready has returned. The tick
 * runs it too, for retries after their backoff, delayed steps and anything
 * a crashed process left behind.
 */
import type { Sql } from "../db/sql.ts";
import type { FieldError } from "../http/error_path.ts";
import { type JsonSchema, mergeParameters, validateParameters } from "../api/params.ts";
import { resolveStepTemplate } from "../api/step_parameters.ts";

/** What one subflow pass of the tick did. */
export interface SubflowTickReport {
  /** Child runs started for due subflow tasks (retries, start delays). */
  started: number;
  /** Live child runs cancelled because their parent task no longer waits for them. */
  orphans_cancelled: number;
}

/** A due subflow task as `edgeflow.claim_subflow_starts` hands it out. */
interface DueSubflow {
  task: string;
  msg_id: number;
  step: string;
  deployment: string;
  version_id: string | null;
  error: Record<string, unknown> | null;
  schema: JsonSchema | null;
  defaults: Record<string, unknown>;
  args: Record<string, unknown> | null;
  map: boolean;
  item: unknown;
  template: Record<string, unknown> | null;
  run: Record<string, unknown>;
  deps: Record<string, unknown>;
}

/**
 * The child's parameters: the deployment's defaults, overlaid by the step's
 * static `args`, then by the resolved `parameters` template. A map step
 * without a template passes `{"item": element}` as well (0040's rule); with
 * one, the template says where the element goes (`{{ item }}`).
 */
export function childParameters(
  due: Pick<DueSubflow, "defaults" | "args" | "map" | "item" | "template" | "run" | "deps">,
): { parameters: Record<string, unknown>; errors: FieldError[] } {
  let resolved: Record<string, unknown> = {};
  let errors: FieldError[] = [];
  if (due.template) {
    ({ value: resolved, errors } = resolveStepTemplate(due.template, {
      run: due.run ?? {},
      deps: due.deps ?? {},
      ...(due.map ? { item: due.item } : {}),
    }));
  }
  const parameters = mergeParameters(
    due.defaults,
    due.args,
    due.map && !due.template ? { item: due.item } : {},
    resolved,
  );
  return { parameters, errors };
}

function problem(due: DueSubflow, what: string, errors: FieldError[]): Record<string, unknown> {
  const list = errors.map((e) => `${e.path}: ${e.message}`).join("; ");
  return {
    message: `step "${due.step}": ${what}: ${list}`,
    code: "subflow_parameters_invalid",
    deployment: due.deployment,
    errors,
  };
}

/**
 * Start the children of due subflow tasks (at most `limit` per round), or
 * fail their steps with a clear error: a bad deployment, the nesting depth
 * limit, a template that refers to nothing, parameters the child's schema
 * refuses. A child's own subflow steps become due as it starts, so this
 * loops, one nesting level per round, until nothing is due (or `maxRounds`,
 * after which the tick carries on). Returns how many children started.
 */
export async function startDueSubflows(
  sql: Sql,
  { limit = 100, maxRounds = 64 }: { limit?: number; maxRounds?: number } = {},
): Promise<number> {
  let started = 0;
  for (let round = 0; round < maxRounds; round++) {
    const [row] = await sql<{ r: DueSubflow[] }>`
      select edgeflow.claim_subflow_starts(${limit}::int) as r`;
    if (row.r.length === 0) break;
    for (const due of row.r) {
      let error = due.error;
      let parameters: Record<string, unknown> = {};
      if (!error) {
        const built = childParameters(due);
        parameters = built.parameters;
        if (built.errors.length > 0) {
          error = problem(due, "its parameters template refers to nothing", built.errors);
        } else {
          const invalid = validateParameters(due.schema, parameters);
          if (invalid.length > 0) {
            error = problem(
              due,
              `the child run's parameters do not match the schema of deployment "${due.deployment}"`,
              invalid,
            );
          }
        }
      }
      const [res] = await sql<{ r: { status: string } }>`
        select edgeflow.start_subflow_task(${due.task}::uuid, ${due.msg_id}::bigint,
                                           ${due.version_id}::uuid,
                                           ${JSON.stringify(parameters)}::text::jsonb,
                                           ${
        error ? JSON.stringify(error) : null
      }::text::jsonb) as r`;
      if (res.r.status === "started") started++;
    }
  }
  return started;
}

/** After a statement that read `edgeflow.subflows_due()`: start what it made due. */
export async function afterSubflowsDue(sql: Sql, due: boolean | null | undefined): Promise<void> {
  if (due) await startDueSubflows(sql);
}

/** Start due subflow tasks and cancel orphaned children: at most `limit` of each per round. */
export async function subflowTick(sql: Sql, limit = 100): Promise<SubflowTickReport> {
  const started = await startDueSubflows(sql, { limit });
  const [row] = await sql<{ r: SubflowTickReport }>`
    select edgeflow.subflow_tick(${limit}::int) as r`;
  return { ...row.r, started };
}
