/**
 * Importers: pure functions that turn configurations of the seed systems
 * into edgeflow API payloads (an {@link ImportPlan}). Apply a plan in order —
 * pools, limits, flows (`POST /register`), deployments (`POST /deploy`) —
 * after waiting for `requiredPools`. Plans are deterministic, so applying
 * one twice changes nothing on the idempotent server.
 */
export { planTrexImport, TrexPackageSchema } from "./trex.ts";
export { planYamlImport } from "./prefect_yaml.ts";
export type { Env } from "./trex_env.ts";
export type {
  DeployPayload,
  ImportIssue,
  ImportPlan,
  ImportResult,
  JobVariables,
  LimitPayload,
  PoolPayload,
  RegisterPayload,
  SchedulePayload,
  StepPayload,
} from "./plan.ts";
