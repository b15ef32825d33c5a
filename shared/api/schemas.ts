/**
 * Every request schema of the API in one import. Each schema lives beside
 * its `z.infer`-style type in the module of its function; routes validate
 * with these once (`readJsonAs(c, RegisterBody)`) and pass typed values on.
 */
export * from "./names.ts";
export * from "./flow_schema.ts";
export * from "./deploy_schema.ts";
export * from "./run_schema.ts";
export * from "./worker_schema.ts";
export { normalizeFlow } from "./normalize_flow.ts";
export type { CanonicalFlow, CanonicalStep, NormalizedRegistration } from "./normalize_flow.ts";
