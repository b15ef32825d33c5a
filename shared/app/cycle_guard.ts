/**
 * `POST /deploy` and `POST /register` refuse a cycle through deployment
 * steps (shared/engine/subflow_cycles.ts): 422 at the step that starts it.
 */
import type { Sql } from "../db/sql.ts";
import { ApiError } from "../http/problem.ts";
import type { FieldError } from "../http/error_path.ts";
import type { FlowDefinition } from "../engine/flows.ts";
import { resolveFlowVersion } from "../engine/flows.ts";
import {
  cycleError,
  type DeploymentEdge,
  findDeploymentCycle,
  loadDeploymentGraph,
  versionEdges,
} from "../engine/subflow_cycles.ts";

function refuse(errors: FieldError[]): never {
  throw ApiError.of(
    "validation_failed",
    "a deployment step leads back to its own deployment",
    errors,
  );
}

/** Deployment `name` running `flow` (version `pin`, or the latest) must not reach itself. */
export async function assertDeploymentAcyclic(
  sql: Sql,
  name: string,
  flow: string,
  pin: number | null,
): Promise<void> {
  const version = await resolveFlowVersion(sql, flow, pin);
  if (!version) return; // the upsert names the unknown flow or version
  const edges = await versionEdges(sql, version.id, name);
  if (edges.length === 0) return;
  const graph = await loadDeploymentGraph(sql);
  graph.set(name, edges);
  const cycle = findDeploymentCycle(graph, name);
  if (cycle) refuse([cycleError(cycle, (e) => `steps[${e.stepIndex}]`)]);
}

/**
 * A new version of `flow` becomes what its unpinned deployments run: none
 * of them may then reach itself. Paths name the steps as written
 * (`writtenIndex` maps a slug to its index in the request).
 */
export async function assertFlowVersionAcyclic(
  sql: Sql,
  flow: FlowDefinition,
  writtenIndex: (slug: string) => number,
): Promise<void> {
  const steps = flow.steps.filter((s) => s.deployment !== null);
  if (steps.length === 0) return;
  const followers = await sql<{ name: string }>`
    select name from edgeflow.deployments
     where flow_name = ${flow.name} and version_pin is null order by name`;
  if (followers.length === 0) return;
  const graph = await loadDeploymentGraph(sql);
  const errors: FieldError[] = [];
  for (const { name } of followers) {
    const edges: DeploymentEdge[] = steps.map((s) => ({
      from: name,
      flow: flow.name,
      version: 0,
      slug: s.slug,
      stepIndex: writtenIndex(s.slug),
      to: s.deployment!,
    }));
    const cycle = findDeploymentCycle(new Map([...graph, [name, edges]]), name);
    if (cycle) errors.push(cycleError(cycle, (e) => `steps[${e.stepIndex}]`));
  }
  if (errors.length > 0) refuse(errors);
}
