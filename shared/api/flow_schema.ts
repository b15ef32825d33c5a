/**
 * The body of `POST /register`: a flow definition as the user writes it.
 *
 * Objects are strict (an unknown field is a 422 naming it), as in Prefect's
 * API, because a typo such as `depend_on` would otherwise silently register
 * a different DAG. Defaults are NOT applied here: `normalizeFlow` applies
 * them, so the canonical form has one source of truth.
 */
import { z } from "zod";
import { Handler, JsonObject, Name, seconds, Slug, Tag, Text } from "./names.ts";
import { KeyConcurrency, SleepSpec, WaitSpec } from "./event_schema.ts";

/** Upper bounds that keep one registration small enough to check and store quickly. */
export const MAX_STEPS = 1000;

/** Retry and timing fields shared by flow `defaults` and each step. */
const retryFields = {
  max_attempts: z.number().int().min(1).max(100).optional(),
  base_delay: seconds(0, 86_400).optional(),
  timeout: seconds(1, 86_400).optional(),
  start_delay: seconds(0, 30 * 86_400).optional(),
};

/** Flow-wide defaults for step retry policy and timing. */
export const FlowDefaults = z.strictObject(retryFields);

/** Prefect-1 flow settings: heartbeats (and the zombie killer), Lazarus, version locking. */
export const FlowSettings = z.strictObject({
  heartbeat: z.boolean().optional(),
  lazarus: z.boolean().optional(),
  version_lock: z.boolean().optional(),
});

/** One step of the DAG as written. */
export const StepDefinition = z.strictObject({
  slug: Slug,
  handler: Handler.optional(),
  depends_on: z.array(Slug).max(MAX_STEPS).optional(),
  map: Slug.nullable().optional(),
  ...retryFields,
  args: z.unknown().optional(),
  deployment: Name.nullable().optional(),
  /** A `deployment` step's child parameters: a template (shared/api/step_parameters.ts). */
  parameters: z.unknown().optional(),
  /** No handler: the step waits for an event (shared/api/event_schema.ts). */
  wait: WaitSpec.optional(),
  /** No handler: the step sleeps for seconds or until a time. */
  sleep: SleepSpec.optional(),
  /** Per-key limits on this step: at most `limit` of its instances per rendered key at once. */
  concurrency: z.array(KeyConcurrency).min(1).max(4).optional(),
});

/** A JSON Schema for run parameters (checked for usability by `normalizeFlow`). */
export const ParameterSchema = JsonObject;

/** The body of `POST /register`. */
export const RegisterBody = z.strictObject({
  name: Name,
  description: Text.nullable().optional(),
  entrypoint: Handler.nullable().optional(),
  image: z.string().min(1).max(512).nullable().optional(),
  tags: z.array(Tag).max(100).optional(),
  parameters: ParameterSchema.nullable().optional(),
  /** Prefect's name for `parameters`; give one or the other. */
  parameter_openapi_schema: ParameterSchema.nullable().optional(),
  defaults: FlowDefaults.optional(),
  settings: FlowSettings.optional(),
  steps: z.array(StepDefinition).max(MAX_STEPS).optional(),
  /** Same key as the latest version's → no new version (Prefect's `idempotency_key`). */
  idempotency_key: z.string().min(1).max(256).optional(),
  /** Versions sharing a group are versions of one flow (default: the flow name). */
  version_group: z.string().min(1).max(256).optional(),
}).superRefine((body, ctx) => {
  if (body.parameters != null && body.parameter_openapi_schema != null) {
    ctx.addIssue({
      code: "custom",
      path: ["parameter_openapi_schema"],
      message: "give either parameters or parameter_openapi_schema, not both",
    });
  }
});

/** A flow definition as written (validated, defaults not yet applied). */
export type FlowDefinition = z.output<typeof RegisterBody>;

/** One step as written. */
export type StepInput = z.output<typeof StepDefinition>;
