/**
 * zod schemas of the grepx Prefect YAML (seed 001): the four tables
 * `prefect_work_pools`, `prefect_flows`, `prefect_tasks`,
 * `prefect_deployments`. Optional fields are `nullish` because YAML writes
 * an empty value (`depends_on:`) as null. Keys we do not map (`flow_type`,
 * descriptions of tasks, pools and deployments) are accepted and dropped.
 * `schedule_config` stays a loose record here: which keys it needs depends
 * on `schedule_type`, and prefect_schedules.ts checks them.
 */
import { z } from "zod";
import { NAME_PATTERN, NAME_RULE } from "./names.ts";

const name = z.string().regex(NAME_PATTERN, NAME_RULE);
const json = z.record(z.string(), z.unknown());
const tags = z.array(z.string().min(1));

/** A `prefect_work_pools` row. */
export const YamlPool = z.object({
  name,
  pool_type: z.string().min(1).nullish(),
  // Prefect's own API calls it `type`; accept either.
  type: z.string().min(1).nullish(),
  concurrency_limit: z.number().int().nonnegative().nullish(),
  is_active: z.boolean().nullish(),
});

/** A `prefect_flows` row. */
export const YamlFlow = z.object({
  name,
  description: z.string().nullish(),
  tags: tags.nullish(),
  is_active: z.boolean().nullish(),
});

/** A `prefect_tasks` row: one Celery task call inside a flow. */
export const YamlTask = z.object({
  // Any text: it becomes a slug through names.ts, the original kept in stepSlugs.
  name: z.string().min(1),
  flow_name: z.string().min(1),
  celery_task_name: z.string().min(1),
  task_kwargs: json.nullish(),
  depends_on: z.array(z.string().min(1)).nullish(),
  timeout_seconds: z.number().positive().nullish(),
  retry_config: z.object({
    max_retries: z.number().int().nonnegative().nullish(),
    retry_delay_seconds: z.number().nonnegative().nullish(),
  }).nullish(),
  is_active: z.boolean().nullish(),
});

/** A `prefect_deployments` row. */
export const YamlDeployment = z.object({
  name,
  flow_name: z.string().min(1),
  work_pool_name: name.nullish(),
  work_queue_name: z.string().min(1).nullish(),
  schedule_type: z.string().nullish(),
  schedule_config: json.nullish(),
  parameters: json.nullish(),
  tags: tags.nullish(),
  is_active: z.boolean().nullish(),
});

/** The whole document; every table is optional. */
export const YamlDefinition = z.object({
  prefect_work_pools: z.array(YamlPool).nullish(),
  prefect_flows: z.array(YamlFlow).nullish(),
  prefect_tasks: z.array(YamlTask).nullish(),
  prefect_deployments: z.array(YamlDeployment).nullish(),
});

/** A validated `prefect_tasks` row. */
export type YamlTask = z.infer<typeof YamlTask>;
/** A validated `prefect_deployments` row. */
export type YamlDeployment = z.infer<typeof YamlDeployment>;
/** A validated document. */
export type YamlDefinition = z.infer<typeof YamlDefinition>;

/** An issue still located by a path array, so the YAML planner can find its line. */
export interface RawIssue {
  path: PropertyKey[];
  message: string;
}
