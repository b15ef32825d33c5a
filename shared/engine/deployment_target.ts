/**
 * The document `edgeflow.deployment_target(name)` returns: what starting a
 * run of a deployment needs (sql/functions/edgeflow.deployment_target.sql).
 * One type for every caller: the trigger route, inbound webhooks, event
 * triggers.
 */
import type { JsonSchema } from "../api/params.ts";

export interface DeploymentTarget {
  id: string;
  name: string;
  flow: string;
  pool: string;
  queue: string;
  paused: boolean;
  parameters: Record<string, unknown>;
  tags: string[];
  version_id: string | null;
  version: number | null;
  archived: boolean | null;
  schema: JsonSchema | null;
}
