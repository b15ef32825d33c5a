/**
 * A flow's `prefect_tasks` rows (seed 001) as edgeflow steps:
 * name → slug (sanitized, original kept), celery_task_name → handler,
 * task_kwargs → args, depends_on (task names) → slugs, timeout_seconds →
 * timeout, retry_config.max_retries → max_attempts (= retries + 1),
 * retry_config.retry_delay_seconds → base_delay.
 *
 * Two choices worth knowing:
 * - A task without retry_config gets max_attempts 1: Prefect's default is
 *   zero retries, and the server's own default would retry a Celery task
 *   its author never meant to run twice.
 * - edgeflow backs off exponentially from base_delay, Prefect waits the same
 *   delay every time; the first retry waits the same, later ones longer.
 * Inactive tasks are left out (a step cannot be switched off); an active
 * task that depends on one is an error rather than a silently cut edge.
 */
import { copyJson, type StepPayload } from "./plan.ts";
import { assignSlugs } from "./names.ts";
import type { RawIssue, YamlTask } from "./prefect_yaml_schema.ts";

/** A task row and its index in `prefect_tasks`, for error paths. */
export interface IndexedTask {
  task: YamlTask;
  index: number;
}

/** Steps of one flow plus its task-name → slug map, or every problem found. */
export function planSteps(
  flow: string,
  rows: IndexedTask[],
  warnings: string[],
): { steps: StepPayload[]; slugs: Record<string, string> } | { errors: RawIssue[] } {
  const errors: RawIssue[] = [];
  const at = (i: number, ...rest: PropertyKey[]) => ["prefect_tasks", i, ...rest];
  const inactive = new Set<string>();
  const active: IndexedTask[] = [];
  const names = new Set<string>();
  for (const row of rows) {
    if (names.has(row.task.name)) {
      errors.push({ path: at(row.index, "name"), message: `duplicate task in flow ${flow}` });
      continue;
    }
    names.add(row.task.name);
    if (row.task.is_active === false) {
      inactive.add(row.task.name);
      warnings.push(`prefect_tasks[${row.index}]: inactive task ${row.task.name} left out`);
    } else active.push(row);
  }

  const slugOf = assignSlugs(active.map((r) => r.task.name));
  const steps: StepPayload[] = [];
  for (const { task, index } of active) {
    const deps: string[] = [];
    (task.depends_on ?? []).forEach((dep, j) => {
      const slug = slugOf.get(dep);
      let problem: string | undefined;
      if (dep === task.name) problem = "a task cannot depend on itself";
      else if (inactive.has(dep)) problem = `depends on inactive task ${dep}`;
      else if (!slug) problem = `unknown task ${dep} in flow ${flow}`;
      if (problem) errors.push({ path: at(index, "depends_on", j), message: problem });
      else if (!deps.includes(slug!)) deps.push(slug!);
    });
    const retry = task.retry_config;
    steps.push({
      slug: slugOf.get(task.name)!,
      handler: task.celery_task_name,
      ...(deps.length ? { depends_on: deps } : {}),
      max_attempts: (retry?.max_retries ?? 0) + 1,
      ...(retry?.retry_delay_seconds != null ? { base_delay: retry.retry_delay_seconds } : {}),
      ...(task.timeout_seconds != null ? { timeout: task.timeout_seconds } : {}),
      ...(task.task_kwargs ? { args: copyJson(task.task_kwargs) } : {}),
    });
  }
  if (!errors.length) {
    const cycle = findCycle(steps);
    if (cycle) {
      const i = steps.findIndex((s) => s.slug === cycle[0]);
      errors.push({
        path: at(active[i].index, "depends_on"),
        message: `dependency cycle: ${cycle.join(" → ")}`,
      });
    }
  }
  if (errors.length) return { errors };
  return {
    steps,
    slugs: Object.fromEntries(active.map((r) => [r.task.name, slugOf.get(r.task.name)!])),
  };
}

/** The first cycle found by depth-first search, as slugs with the start repeated; else null. */
export function findCycle(steps: StepPayload[]): string[] | null {
  const deps = new Map(steps.map((s) => [s.slug, s.depends_on ?? []]));
  const state = new Map<string, "open" | "done">();
  const trail: string[] = [];
  const visit = (slug: string): string[] | null => {
    if (state.get(slug) === "done") return null;
    if (state.get(slug) === "open") return [...trail.slice(trail.indexOf(slug)), slug];
    state.set(slug, "open");
    trail.push(slug);
    for (const dep of deps.get(slug) ?? []) {
      const found = visit(dep);
      if (found) return found;
    }
    trail.pop();
    state.set(slug, "done");
    return null;
  };
  for (const s of steps) {
    const found = visit(s.slug);
    if (found) return found;
  }
  return null;
}
