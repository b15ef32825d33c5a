/**
 * Bodies of the `deploy` function: deployments, work pools, API keys,
 * concurrency limits and variables.
 *
 * A deployment body is declarative: it describes the whole deployment, and
 * fields left out take their defaults on update too (like re-running
 * `prefect deploy`), so the same file always yields the same deployment.
 * Schedule entries are only required to be objects here; the schedule
 * module validates them (cron, timezone, rrule) with paths of its own.
 */
import { z } from "zod";
import { SCOPES } from "../http/api_keys.ts";
import { int4, JsonObject, Name, Tag, Text, VersionPin } from "./names.ts";

/** What a deployment does when its concurrency limit is full (Prefect's collision strategies). */
export const CollisionStrategy = z.enum(["enqueue", "cancel_new"]);

/** Container settings for executors that start a container per run. */
export const JobVariables = z.looseObject({
  image: z.string().min(1).max(512).optional(),
  env: z.record(z.string(), z.string()).optional(),
  volumes: z.array(z.string()).optional(),
  network: z.string().optional(),
  pull_policy: z.enum(["Always", "IfNotPresent", "Never"]).optional(),
});

/** The body of `POST /deploy`. */
export const DeployBody = z.strictObject({
  name: Name,
  flow: Name,
  description: Text.nullable().default(null),
  version: VersionPin.default("latest"),
  pool: Name.default("default"),
  queue: Name.default("default"),
  parameters: JsonObject.default({}),
  tags: z.array(Tag).max(100).default([]),
  schedules: z.array(z.record(z.string(), z.unknown())).max(100).default([]),
  concurrency_limit: int4(1).nullable().default(null),
  collision_strategy: CollisionStrategy.default("enqueue"),
  paused: z.boolean().default(false),
  job_variables: JobVariables.default({}),
  /** Days its finished runs are kept; null: `EDGEFLOW_RETENTION_DAYS` (default 30). */
  retention_days: int4(1).nullable().default(null),
});
/** A validated deployment body, defaults applied. */
export type DeployInput = z.output<typeof DeployBody>;

/** The body of `POST /deploy/pools`. `push` pools deliver tasks over HTTP (QStash) to `url`. */
export const PoolBody = z.strictObject({
  name: Name,
  type: z.enum(["pull", "push"]).default("pull"),
  description: Text.nullable().default(null),
  concurrency_limit: int4(1).nullable().default(null),
  paused: z.boolean().default(false),
  url: z.url({ protocol: /^https?$/ }).nullable().default(null),
}).superRefine((pool, ctx) => {
  if (pool.type === "push" && pool.url === null) {
    ctx.addIssue({
      code: "custom",
      path: ["url"],
      message: "a push pool needs the url to deliver to",
    });
  }
});
/** A validated pool body, defaults applied. */
export type PoolInput = z.output<typeof PoolBody>;

/**
 * The body of `POST /deploy/keys`. The key is returned once and stored hashed.
 * Expiry: `expires_at` (an instant) or `expires_in` (seconds from now), not both.
 */
export const KeyBody = z.strictObject({
  name: z.string().min(1).max(128),
  scopes: z.array(z.enum(SCOPES)).min(1).transform((s) => [...new Set(s)].sort()),
  expires_at: z.iso.datetime({ offset: true }).nullable().default(null),
  expires_in: z.number().int().min(1).max(10 * 365 * 86_400).optional(),
}).superRefine((key, ctx) => {
  if (key.expires_in !== undefined && key.expires_at !== null) {
    ctx.addIssue({
      code: "custom",
      path: ["expires_in"],
      message: "give expires_at or expires_in, not both",
    });
  }
});
/** A validated key body; scopes de-duplicated and sorted. */
export type KeyInput = z.output<typeof KeyBody>;

/** A tag-based concurrency limit (Prefect's `concurrencyLimitOptions`). */
export const ConcurrencyLimitBody = z.strictObject({
  tag: Name,
  limit: int4(0),
});
/** A validated concurrency-limit body. */
export type ConcurrencyLimitInput = z.output<typeof ConcurrencyLimitBody>;

/**
 * A variable's body: `{"value": <any JSON>}`. Wrapped rather than the bare
 * value so `null` and `{}` stay distinguishable from an empty body.
 */
export const VariableBody = z.strictObject({ value: z.json() });
/** A validated variable body. */
export type VariableInput = z.output<typeof VariableBody>;
