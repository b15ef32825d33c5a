/**
 * Bodies and queries of the `trigger` function: starting runs and listing them.
 *
 * The trigger body is deliberately NOT strict: it is a webhook, and senders
 * (GitHub, Stripe, QStash) wrap payloads in fields of their own. Unknown
 * fields are ignored; only `parameters` and `tags` (extra run tags) are read.
 */
import { z } from "zod";
import { queryInt } from "./query_int.ts";
import { JsonObject, Name, Tag, Uuid, VersionPin } from "./names.ts";

/** Run states (product.md). */
export const RunStatus = z.enum([
  "SCHEDULED",
  "PENDING",
  "RUNNING",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "CRASHED",
  "CANCELLING",
]);

/**
 * Extra tags for one run, added to the flow's and the deployment's (tag
 * concurrency limits count them like those).
 */
export const RunTags = z.array(Tag).max(100).default([]);

/** The body of `POST /trigger/:deployment`. */
export const TriggerBody = z.object({
  parameters: JsonObject.default({}),
  tags: RunTags,
});
/** A validated trigger body. */
export type TriggerInput = z.output<typeof TriggerBody>;

/**
 * `POST /trigger/:deployment` also reads `parent_task`: the task that starts
 * the run (`ctx.runDeployment` sends its own), whose child the run becomes,
 * shown as `parent`/`children` like a deployment step's.
 */
export const DeploymentTriggerBody = TriggerBody.extend({ parent_task: Uuid.optional() });

/** The body of `POST /trigger/flows/:flow`: an ad hoc run without a deployment. */
export const AdHocRunBody = z.strictObject({
  parameters: JsonObject.default({}),
  version: VersionPin.default("latest"),
  pool: Name.default("default"),
  tags: RunTags,
});
/** A validated ad hoc run body. */
export type AdHocRunInput = z.output<typeof AdHocRunBody>;

/** Query of `GET /trigger/runs` (all values arrive as strings). */
export const RunsQuery = z.strictObject({
  status: RunStatus.optional(),
  flow: Name.optional(),
  deployment: Name.optional(),
  limit: queryInt(1, 500, 50),
  cursor: z.string().min(1).max(512).optional(),
});
/** A validated runs query. */
export type RunsQueryInput = z.output<typeof RunsQuery>;

/** A run id in a path. */
export const RunId = Uuid;
