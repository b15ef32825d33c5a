/**
 * Registration of the steps of issue 16: `wait` and `sleep` steps (no
 * handler; see sql/functions/edgeflow._start_wait.sql) and a step's per-key
 * `concurrency` (sql/functions/edgeflow._take_step_slots.sql). Checks what zod cannot (a wait step takes no handler, its
 * key may name only the run and its dependencies) and writes the canonical
 * fields, each absent when not given so other flows keep their hash.
 */
import type { StepDefinition as CanonicalStep } from "../engine/flows.ts";
import type { FieldError } from "../http/error_path.ts";
import { canonicalize } from "./canonical_json.ts";
import type { StepInput } from "./flow_schema.ts";
import { checkKeyTemplate } from "./key_template.ts";

/** What a step that waits cannot have: it runs no handler. */
const NOT_WITH_WAIT = ["handler", "map", "deployment", "parameters", "args"] as const;

/** Problems of a step's `wait`, `sleep` and `concurrency`, with paths under `steps[i]`. */
export function checkWaitStep(step: StepInput, i: number): FieldError[] {
  const errors: FieldError[] = [];
  const at = `steps[${i}]`;
  const scope = { roots: ["run", "deps"], deps: step.depends_on ?? [] };
  if (step.wait !== undefined && step.sleep !== undefined) {
    errors.push({ path: `${at}.sleep`, message: "a step either waits for an event or sleeps" });
  }
  const kind = step.wait !== undefined ? "wait" : step.sleep !== undefined ? "sleep" : null;
  if (kind !== null) {
    for (const field of NOT_WITH_WAIT) {
      if (step[field] !== undefined && step[field] !== null) {
        errors.push({
          path: `${at}.${field}`,
          message: `a ${kind} step runs no handler: it takes no ${field}`,
        });
      }
    }
    if (step.concurrency !== undefined) {
      errors.push({ path: `${at}.concurrency`, message: `a ${kind} step holds no slot` });
    }
  }
  if (step.wait?.key !== undefined) {
    for (const x of checkKeyTemplate(step.wait.key, scope, `${at}.wait.key`)) errors.push(x);
  }
  (step.concurrency ?? []).forEach((c, j) => {
    for (const x of checkKeyTemplate(c.key, scope, `${at}.concurrency[${j}].key`)) errors.push(x);
  });
  return errors;
}

/** The canonical `wait`, `sleep` and `concurrency` of a step, defaults applied. */
export function waitFields(step: StepInput): Partial<CanonicalStep> {
  const out: Partial<CanonicalStep> = {};
  if (step.wait !== undefined) {
    out.wait = {
      event: step.wait.event,
      key: step.wait.key ?? "",
      match: canonicalize(step.wait.match ?? {}) as Record<string, unknown>,
      timeout: step.wait.timeout,
      lookback: step.wait.lookback ?? 0,
      on_timeout: step.wait.on_timeout ?? "fail",
    };
  }
  if (step.sleep !== undefined) {
    out.sleep = typeof step.sleep === "number"
      ? step.sleep
      : { until: new Date(step.sleep.until).toISOString() };
  }
  if (step.concurrency !== undefined) {
    out.concurrency = step.concurrency.map((c) => ({ key: c.key, limit: c.limit }));
  }
  return out;
}
