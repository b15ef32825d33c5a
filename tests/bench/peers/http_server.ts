/**
 * The edgeflow server the HTTP peer figure talks to, in a process of its
 * own as in production (the worker loops run in the benchmark's process):
 * every route over postgres.js at DATABASE_URL, quiet, on a free port that
 * it prints as `listening <port>`.
 */
import { createApp } from "../../../shared/app/app.ts";
import { silentLogger } from "../../../shared/http/logger.ts";
import { denoDeps } from "../../../shared/runtime/deno_deps.ts";

const deps = await denoDeps();
const app = createApp({ ...deps, log: silentLogger });
Deno.serve({
  port: 0,
  hostname: "127.0.0.1",
  onListen: ({ port }) => console.log(`listening ${port}`),
}, app.fetch);
