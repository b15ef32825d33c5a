/**
 * From a flow definition as written to the canonical flow the database
 * stores and hashes.
 *
 * zod has checked shapes and names; this module checks the DAG (duplicate
 * slugs, unknown or self dependencies, cycles, `map` outside `depends_on`),
 * reports every problem at once with its path, and applies every default.
 * The result has every field present, keys in a fixed order, tags and
 * dependencies sorted, and steps in a deterministic topological order, so
 * two definitions that mean the same thing produce the same object and
 * re-registering them is a no-op.
 */
import type {
  FlowDefinition as CanonicalFlow,
  StepDefinition as CanonicalStep,
} from "../engine/flows.ts";
import { ApiError } from "../http/api_error.ts";
import type { FieldError } from "../http/error_path.ts";
import { canonicalize, sortedUnique } from "./canonical_json.ts";
import { components, cycleThrough, topologicalOrder } from "./dag.ts";
import type { FlowDefinition, StepInput } from "./flow_schema.ts";
import { checkParameterSchema, type JsonSchema } from "./params.ts";
import { checkStepTemplate } from "./step_parameters.ts";
import { checkWaitStep, waitFields } from "./wait_steps.ts";

/** Built-in step defaults, used where neither the step nor the flow's `defaults` say. */
export const STEP_DEFAULTS = {
  max_attempts: 3,
  base_delay: 1,
  timeout: 60,
  start_delay: 0,
} as const;

/** Built-in flow settings (Prefect 1: heartbeats and version locking on, Lazarus off). */
export const SETTINGS_DEFAULTS = { heartbeat: true, lazarus: false, version_lock: true } as const;

/** Slug of the single implicit step of a flow that declares only an `entrypoint`. */
export const IMPLICIT_STEP_SLUG = "main";

/** The canonical flow (every field present) is the engine's: what it stores and hashes. */
export type { CanonicalFlow, CanonicalStep };

/** `normalizeFlow`'s result: the canonical flow and the registration options beside it. */
export interface NormalizedRegistration {
  flow: CanonicalFlow;
  idempotency_key: string | null;
  version_group: string | null;
}

/** Validates the DAG and applies defaults; throws 422 `validation_failed` listing every problem. */
export function normalizeFlow(def: FlowDefinition): NormalizedRegistration {
  const errors: FieldError[] = [];
  const schemaField = def.parameters != null ? "parameters" : "parameter_openapi_schema";
  const parameters = def.parameters ?? def.parameter_openapi_schema ?? null;
  if (parameters !== null) {
    for (const x of checkParameterSchema(parameters, schemaField)) errors.push(x);
  }

  let steps: StepInput[] = def.steps ?? [];
  if (steps.length === 0) {
    if (def.entrypoint) steps = [{ slug: IMPLICIT_STEP_SLUG, handler: def.entrypoint }];
    else errors.push({ path: "steps", message: "a flow needs steps or an entrypoint" });
  }
  const deps = checkSteps(steps, errors);
  if (errors.length > 0) {
    throw ApiError.of("validation_failed", "the flow definition is invalid", errors);
  }

  const defaults = { ...STEP_DEFAULTS, ...def.defaults };
  const canonicalSteps = topologicalOrder(deps).map((i): CanonicalStep => {
    const step = steps[i];
    return {
      slug: step.slug,
      handler: step.handler ?? step.slug,
      depends_on: sortedUnique(step.depends_on ?? []),
      map: step.map ?? null,
      max_attempts: step.max_attempts ?? defaults.max_attempts,
      base_delay: step.base_delay ?? defaults.base_delay,
      timeout: step.timeout ?? defaults.timeout,
      start_delay: step.start_delay ?? defaults.start_delay,
      args: step.args === undefined ? null : canonicalize(step.args),
      deployment: step.deployment ?? null,
      ...(step.parameters === undefined
        ? {}
        : { parameters: canonicalize(step.parameters) as Record<string, unknown> }),
      ...waitFields(step),
    };
  });
  return {
    flow: {
      name: def.name,
      description: def.description ?? null,
      entrypoint: def.entrypoint ?? null,
      image: def.image ?? null,
      tags: sortedUnique(def.tags ?? []),
      parameters: parameters === null ? null : canonicalize(parameters) as JsonSchema,
      settings: { ...SETTINGS_DEFAULTS, ...def.settings },
      steps: canonicalSteps,
    },
    idempotency_key: def.idempotency_key ?? null,
    version_group: def.version_group ?? null,
  };
}

/**
 * Checks slugs and edges, appending errors; returns each step's
 * dependencies as indices (unknown and self edges left out).
 */
function checkSteps(steps: StepInput[], errors: FieldError[]): number[][] {
  const indexOf = new Map<string, number>();
  steps.forEach((step, i) => {
    const first = indexOf.get(step.slug);
    if (first === undefined) indexOf.set(step.slug, i);
    else {
      errors.push({
        path: `steps[${i}].slug`,
        message: `duplicate slug "${step.slug}" (first declared at steps[${first}])`,
      });
    }
  });

  const deps = steps.map((step, i) => {
    const targets: number[] = [];
    (step.depends_on ?? []).forEach((slug, j) => {
      const target = indexOf.get(slug);
      const path = `steps[${i}].depends_on[${j}]`;
      if (target === undefined) errors.push({ path, message: `unknown step "${slug}"` });
      else if (slug === step.slug) errors.push({ path, message: "a step cannot depend on itself" });
      else targets.push(target);
    });
    if (step.map != null && !(step.depends_on ?? []).includes(step.map)) {
      errors.push({
        path: `steps[${i}].map`,
        message: `"${step.map}" must also be listed in depends_on`,
      });
    }
    for (const x of checkWaitStep(step, i)) errors.push(x);
    if (step.parameters !== undefined) {
      const path = `steps[${i}].parameters`;
      if (step.deployment == null) {
        errors.push({ path, message: "only a step with a deployment takes parameters" });
      } else for (const x of checkStepTemplate(step.parameters, step, path)) errors.push(x);
    }
    return targets;
  });

  // One error per step on a cycle, at its first dependency that stays on it.
  const component = components(deps);
  const size = new Map<number, number>();
  for (const c of component) size.set(c, (size.get(c) ?? 0) + 1);
  steps.forEach((step, i) => {
    if (size.get(component[i])! < 2) return;
    const j = (step.depends_on ?? []).findIndex((slug) => {
      const target = indexOf.get(slug);
      return target !== undefined && slug !== step.slug && component[target] === component[i];
    });
    const cycle = cycleThrough(deps, component, i, indexOf.get(step.depends_on![j])!);
    errors.push({
      path: `steps[${i}].depends_on[${j}]`,
      message: `dependency cycle: ${cycle.map((v) => steps[v].slug).join(" -> ")}`,
    });
  });
  return deps;
}
