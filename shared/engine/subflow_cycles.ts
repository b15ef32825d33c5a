/**
 * Cycles through deployment steps, refused when they become visible: at
 * `POST /deploy` (the deployment's flow reaches back to it) and at
 * `POST /register` (a new version, run by deployments that follow the
 * latest one, closes a loop). A run of such a deployment would start itself
 * without end; the run-time depth limit (migration 0055) still stops loops
 * this cannot see (two deploys racing, a deployment repointed by hand).
 *
 * The graph is small (deployments × their deployment steps) and read in one
 * query at these rare writes, so it is walked here rather than in SQL.
 */
import type { Sql } from "../db/sql.ts";
import type { FieldError } from "../http/error_path.ts";

/** A deployment step of the flow version a deployment runs. */
export interface DeploymentEdge {
  /** The deployment whose flow has the step. */
  from: string;
  flow: string;
  /** 0: the version being registered. */
  version: number;
  slug: string;
  /** The step's index in the stored (canonical) definition. */
  stepIndex: number;
  /** The deployment the step runs. */
  to: string;
}

/** Every deployment's outgoing deployment steps, through the version it runs now. */
export async function loadDeploymentGraph(sql: Sql): Promise<Map<string, DeploymentEdge[]>> {
  const rows = await sql<
    { name: string; flow: string; version: number; slug: string; step_index: number; to: string }
  >`
    select d.name, v.flow_name as flow, v.version, fs.slug, fs.step_index, fs.deployment as to
      from edgeflow.deployments d
      cross join lateral (
        select fv.id, fv.flow_name, fv.version from edgeflow.flow_versions fv
         where fv.flow_name = d.flow_name
           and (d.version_pin is null or fv.version = d.version_pin)
         order by (d.version_pin is null and fv.archived), fv.version desc
         limit 1) v
      join edgeflow.flow_steps fs on fs.flow_version_id = v.id and fs.deployment is not null
     order by d.name, fs.step_index`;
  const graph = new Map<string, DeploymentEdge[]>();
  for (const r of rows) {
    const edges = graph.get(r.name) ?? [];
    edges.push({
      from: r.name,
      flow: r.flow,
      version: r.version,
      slug: r.slug,
      stepIndex: r.step_index,
      to: r.to,
    });
    graph.set(r.name, edges);
  }
  return graph;
}

/** The deployment steps of one flow version, as edges leaving deployment `from`. */
export async function versionEdges(
  sql: Sql,
  versionId: string,
  from: string,
): Promise<DeploymentEdge[]> {
  const rows = await sql<
    { flow: string; version: number; slug: string; step_index: number; to: string }
  >`
    select v.flow_name as flow, v.version, fs.slug, fs.step_index, fs.deployment as to
      from edgeflow.flow_steps fs join edgeflow.flow_versions v on v.id = fs.flow_version_id
     where fs.flow_version_id = ${versionId}::uuid and fs.deployment is not null
     order by fs.step_index`;
  return rows.map((r) => ({
    from,
    flow: r.flow,
    version: r.version,
    slug: r.slug,
    stepIndex: r.step_index,
    to: r.to,
  }));
}

/** A path of deployment steps from `start` back to `start`, or null (depth-first, step order). */
export function findDeploymentCycle(
  graph: Map<string, DeploymentEdge[]>,
  start: string,
): DeploymentEdge[] | null {
  const done = new Set<string>();
  const path: DeploymentEdge[] = [];
  const visit = (name: string): boolean => {
    for (const edge of graph.get(name) ?? []) {
      path.push(edge);
      if (edge.to === start) return true;
      if (!done.has(edge.to)) {
        done.add(edge.to);
        if (visit(edge.to)) return true;
      }
      path.pop();
    }
    return false;
  };
  return visit(start) ? path : null;
}

/** `deployment "a" → step "sub" of flow "f" v2 → deployment "b" → … → deployment "a"`. */
export function describeCycle(cycle: DeploymentEdge[]): string {
  return cycle.map((e) =>
    `deployment "${e.from}" → step "${e.slug}" of flow "${e.flow}" ${
      e.version > 0 ? `v${e.version}` : "(the version being registered)"
    } → `
  ).join("") + `deployment "${cycle[0].from}"`;
}

/** The error of a cycle, at the first step of it (`stepPath` maps it to a path). */
export function cycleError(
  cycle: DeploymentEdge[],
  stepPath: (edge: DeploymentEdge) => string,
): FieldError {
  return {
    path: `${stepPath(cycle[0])}.deployment`,
    message: `deployment cycle: ${describeCycle(cycle)}; a run of "${cycle[0].from}" ` +
      `would start runs of itself without end`,
  };
}
