/**
 * Import a grepx Prefect YAML definition (seed 001: `prefect_work_pools`,
 * `prefect_flows`, `prefect_tasks`, `prefect_deployments`) as an edgeflow
 * plan. Pools keep name, type and limit; flows become registrations whose
 * steps are their tasks (prefect_tasks.ts); deployments carry pool, queue,
 * parameters and one schedule (prefect_schedules.ts).
 *
 * `is_active: false` is kept, not dropped, so that switching a row off and
 * on again is an update rather than a delete: an inactive pool is paused, an
 * inactive deployment is paused with its schedule inactive, and an inactive
 * flow is still registered, listed in `inactiveFlows`, with all its
 * deployments paused (grepx would not run it at all).
 *
 * Every problem is reported with its path and, from the YAML source, its
 * line and column.
 */
import { type Document, LineCounter, parseDocument } from "yaml";
import {
  copyJson,
  type DeployPayload,
  formatPath,
  type ImportIssue,
  type ImportPlan,
  type ImportResult,
  type PoolPayload,
  type RegisterPayload,
  requiredPools,
} from "./plan.ts";
import { type RawIssue, YamlDefinition } from "./prefect_yaml_schema.ts";
import { type IndexedTask, planSteps } from "./prefect_tasks.ts";
import { planSchedule } from "./prefect_schedules.ts";

/** Plan the import of one YAML document; the text is all it needs. */
export function planYamlImport(yamlText: string): ImportResult {
  const lines = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter: lines, prettyErrors: true });
  if (doc.errors.length) {
    return {
      ok: false,
      errors: doc.errors.map((e) => ({
        path: "",
        // prettyErrors appends a source excerpt; the first line is the message.
        message: e.message.split("\n")[0].replace(/:$/, ""),
        ...(e.linePos ? { line: e.linePos[0].line, column: e.linePos[0].col } : {}),
      })),
    };
  }
  let data: unknown;
  try {
    data = doc.toJS(); // alias expansion is capped by yaml's maxAliasCount (100)
  } catch (e) {
    return { ok: false, errors: [{ path: "", message: (e as Error).message }] };
  }
  const warnings = doc.warnings.map((w) => w.message.split("\n")[0]);
  const parsed = YamlDefinition.safeParse(data ?? {});
  if (!parsed.success) {
    return { ok: false, errors: locate(doc, lines, parsed.error.issues) };
  }
  const result = plan(parsed.data, warnings);
  if ("errors" in result) return { ok: false, errors: locate(doc, lines, result.errors) };
  return { ok: true, plan: result.plan };
}

function plan(
  def: YamlDefinition,
  warnings: string[],
): { plan: ImportPlan } | { errors: RawIssue[] } {
  const errors: RawIssue[] = [];
  const dupes = <T extends { name: string }>(rows: T[], table: string) => {
    const seen = new Set<string>();
    rows.forEach((r, i) => {
      if (seen.has(r.name)) {
        errors.push({ path: [table, i, "name"], message: `duplicate ${r.name}` });
      }
      seen.add(r.name);
    });
  };

  const poolRows = def.prefect_work_pools ?? [];
  dupes(poolRows, "prefect_work_pools");
  const pools: PoolPayload[] = poolRows.map((p) => {
    const kind = (p.type ?? p.pool_type ?? "process").toLowerCase();
    return {
      name: p.name,
      // Prefect's push pools (`cloud-run:push`, …) need no worker; here push
      // means HTTP delivery. Every other type (process, docker, …) is polled.
      type: kind === "push" || kind.endsWith(":push") ? "push" : "pull",
      ...(p.concurrency_limit != null ? { concurrency_limit: p.concurrency_limit } : {}),
      paused: p.is_active === false,
    };
  });

  const flowRows = def.prefect_flows ?? [];
  dupes(flowRows, "prefect_flows");
  const byFlow = new Map<string, IndexedTask[]>(flowRows.map((f) => [f.name, []]));
  (def.prefect_tasks ?? []).forEach((task, index) => {
    const list = byFlow.get(task.flow_name);
    if (list) list.push({ task, index });
    else {
      errors.push({
        path: ["prefect_tasks", index, "flow_name"],
        message: `unknown flow ${task.flow_name}`,
      });
    }
  });

  const flows: RegisterPayload[] = [];
  const stepSlugs: Record<string, Record<string, string>> = {};
  const inactiveFlows: string[] = [];
  for (const f of flowRows) {
    if (f.is_active === false) inactiveFlows.push(f.name);
    const steps = planSteps(f.name, byFlow.get(f.name) ?? [], warnings);
    if ("errors" in steps) {
      errors.push(...steps.errors);
      continue;
    }
    if (!steps.steps.length) warnings.push(`flow ${f.name} has no active tasks`);
    stepSlugs[f.name] = steps.slugs;
    flows.push({
      name: f.name,
      ...(f.description ? { description: f.description } : {}),
      tags: [...(f.tags ?? [])],
      steps: steps.steps,
    });
  }

  const depRows = def.prefect_deployments ?? [];
  dupes(depRows, "prefect_deployments");
  const definedPools = new Set(["default", ...pools.map((p) => p.name)]);
  const deployments: DeployPayload[] = [];
  depRows.forEach((d, i) => {
    const at = ["prefect_deployments", i];
    if (!byFlow.has(d.flow_name)) {
      errors.push({ path: [...at, "flow_name"], message: `unknown flow ${d.flow_name}` });
      return;
    }
    const pool = d.work_pool_name ?? "default";
    if (!definedPools.has(pool)) {
      warnings.push(`${formatPath(at)}: pool ${pool} is not in prefect_work_pools`);
    }
    const active = d.is_active !== false && !inactiveFlows.includes(d.flow_name);
    const sched = planSchedule(d.schedule_type, d.schedule_config, active, at, warnings);
    if ("errors" in sched) {
      errors.push(...sched.errors);
      return;
    }
    deployments.push({
      name: d.name,
      flow: d.flow_name,
      version: "latest",
      pool,
      queue: d.work_queue_name ?? "default",
      parameters: copyJson(d.parameters ?? {}),
      tags: [...(d.tags ?? [])],
      schedules: sched.schedules,
      paused: !active,
    });
  });

  if (errors.length) return { errors };
  return {
    plan: {
      pools,
      limits: [],
      flows,
      deployments,
      inactiveFlows,
      requiredPools: requiredPools(pools, deployments),
      stepSlugs,
      warnings,
    },
  };
}

/** Give each issue its printable path and the line/column of the YAML node it names. */
function locate(doc: Document, lines: LineCounter, issues: readonly RawIssue[]): ImportIssue[] {
  return issues.map((issue) => {
    const out: ImportIssue = { path: formatPath(issue.path), message: issue.message };
    // A missing key has no node: point at the nearest ancestor that exists.
    for (let n = issue.path.length; n >= 0; n--) {
      const node = doc.getIn(issue.path.slice(0, n), true) as { range?: [number, number, number] };
      if (node?.range) {
        const pos = lines.linePos(node.range[0]);
        return { ...out, line: pos.line, column: pos.col };
      }
    }
    return out;
  });
}
