/**
 * `@edgeflow/sdk`: run task handlers against an edgeflow control plane, and
 * register, deploy and trigger flows. Plain ESM on Web standards (`fetch`,
 * timers): Node ≥ 18, Deno, Bun, Supabase Edge Functions, Cloudflare Workers.
 *
 *   import { createClient, createWorker } from "@edgeflow/sdk";
 *   const worker = createWorker({ url, key, pool: "default",
 *     handlers: { "etl.extract": async (ctx) => ({ rows: 42 }) } });
 *   await worker.start();
 *
 * @module
 */
export * from "../../../shared/worker/mod.ts";
export {
  ApiError,
  type Client,
  type ClientOptions,
  createClient,
  FINAL_STATUSES,
  type Run,
} from "./client.ts";
