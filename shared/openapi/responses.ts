/**
 * Response bodies of the API as zod schemas, for the OpenAPI document only
 * (responses are built by SQL functions, so nothing parses them at run
 * time): what api.md promises, fields a client may rely on, open to new
 * fields. tests/ops/openapi_test.ts validates the contract tests' responses
 * against the document generated from these.
 */
import { z } from "zod";
import { ERROR_CODES } from "../http/api_error.ts";
import { RunStatus } from "../api/run_schema.ts";

const Iso = z.string().describe("ISO 8601 UTC timestamp");
const IsoOrNull = Iso.nullable();

/** An RFC 9457 problem document (shared/http/problem.ts). */
export const Problem = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int().min(400).max(599),
  detail: z.string(),
  code: z.enum(Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES]),
  errors: z.array(z.looseObject({ path: z.string(), message: z.string() })),
  errors_omitted: z.number().int().optional(),
});

export const Health = z.looseObject({ status: z.literal("ok") });

/** `POST /register` → the flow version. */
export const Registered = z.looseObject({
  id: z.uuid(),
  name: z.string(),
  version: z.number().int(),
  hash: z.string(),
  created: z.boolean(),
});

export const Flow = z.looseObject({ name: z.string() });
export const FlowList = z.looseObject({ flows: z.array(Flow) });

export const Schedule = z.looseObject({ id: z.uuid(), next_fire_at: IsoOrNull.optional() });

/** A deployment with its schedules (edgeflow.deployment_json). */
export const Deployment = z.looseObject({
  id: z.uuid(),
  name: z.string(),
  flow: z.string(),
  version: z.union([z.literal("latest"), z.number().int()]),
  pool: z.string(),
  queue: z.string(),
  parameters: z.record(z.string(), z.unknown()),
  tags: z.array(z.string()),
  concurrency_limit: z.number().int().nullable(),
  collision_strategy: z.string(),
  paused: z.boolean(),
  retention_days: z.number().int().nullable().optional(),
  schedules: z.array(Schedule),
  created_at: Iso,
  updated_at: Iso,
});
export const DeploymentList = z.looseObject({ deployments: z.array(Deployment) });

export const Pool = z.looseObject({ name: z.string() });
export const PoolList = z.looseObject({ pools: z.array(Pool) });

/** `POST /deploy/keys` → the key, shown once. */
export const CreatedKey = z.looseObject({ id: z.uuid(), key: z.string() });

/** `POST /trigger/…` → the run started (201) or found by its Idempotency-Key (200). */
export const TriggerResult = z.looseObject({
  run_id: z.uuid(),
  status: RunStatus,
  deployment: z.string().nullable(),
  flow: z.string(),
  version: z.number().int(),
});

export const StepState = z.looseObject({
  slug: z.string(),
  status: z.string(),
  attempts: z.number().int(),
  output: z.unknown(),
  error: z.unknown(),
  tasks: z.number().int(),
});

/** `GET /trigger/runs/:id` (edgeflow.run_json). */
export const Run = z.looseObject({
  id: z.uuid(),
  status: RunStatus,
  flow: z.string(),
  version: z.number().int(),
  deployment: z.string().nullable(),
  parameters: z.record(z.string(), z.unknown()),
  output: z.unknown(),
  error: z.unknown(),
  created_at: Iso,
  started_at: IsoOrNull,
  ended_at: IsoOrNull,
  steps: z.array(StepState),
  /** Not started EDGEFLOW_LATE_SECONDS after its time, and still waiting (edgeflow.mark_late_runs). */
  late: z.boolean(),
  /** When the tick flagged it late (kept once it starts). */
  late_at: IsoOrNull,
  /** The run's W3C trace: its id, the trigger's span and the caller's span (docs/tracing.md). */
  trace: z.looseObject({
    trace_id: z.string().regex(/^[0-9a-f]{32}$/),
    span_id: z.string().nullable(),
    parent_id: z.string().nullable(),
  }),
});

/** `GET /trigger/runs`: newest first, with the cursor of the next page. */
export const RunList = z.looseObject({
  runs: z.array(
    z.looseObject({ id: z.uuid(), status: RunStatus, flow: z.string(), late: z.boolean() }),
  ),
  next_cursor: z.string().nullable(),
});

export const CancelResult = z.looseObject({});

/** `POST /heartbeat`. */
export const HeartbeatResult = z.looseObject({
  lease_seconds: z.number(),
  heartbeat_seconds: z.number(),
  tasks: z.array(z.looseObject({
    task: z.uuid(),
    lease: z.string(),
    run_id: z.uuid(),
    flow: z.string(),
    step: z.string(),
    handler: z.string(),
    attempt: z.number().int(),
    input: z.unknown(),
  })),
  cancel: z.array(z.string()),
  lost: z.array(z.string()),
});

export const FailResult = z.looseObject({ retry_at: Iso.nullable().optional() });

/** Any JSON object (routes whose document is described in api.md's prose only). */
export const AnyObject = z.looseObject({});

/** `GET /trigger/runs/:id/events` as JSON. */
export const EventPage = z.looseObject({
  run_id: z.uuid(),
  status: RunStatus,
  events: z.array(z.looseObject({ id: z.number().int(), kind: z.string(), to: z.string() })),
  last_id: z.number().int(),
});
