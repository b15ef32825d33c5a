/**
 * The edgeflow app in a process of its own, for the fault tests that kill
 * the server: it serves createApp over Postgres at --database-url on a free
 * loopback port and prints one JSON line, {"event":"listening","url":…}.
 * SIGKILL it like a crashed host; it exits by itself after --max-seconds.
 *
 *   deno run -A tests/faults/server_process.ts --database-url URL
 */
import { parseArgs } from "node:util";
import { createApp } from "../../shared/app/app.ts";
import { postgresSql } from "../../shared/db/postgres.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { ADMIN_KEY } from "../support/app.ts";

const { values: o } = parseArgs({
  args: Deno.args,
  options: {
    "database-url": { type: "string" },
    "max-seconds": { type: "string", default: "180" },
  },
});
if (!o["database-url"]) throw new Error("--database-url is required");
setTimeout(() => Deno.exit(3), Number(o["max-seconds"]) * 1000);
const sql = postgresSql(o["database-url"], { max: 8, connectTimeoutMs: 3_000 });
const app = createApp({
  sql: () => sql,
  config: { adminKey: ADMIN_KEY, heartbeatSeconds: 1, leaseSeconds: 2 },
  log: silentLogger,
});
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
console.log(JSON.stringify({ event: "listening", url: `http://127.0.0.1:${server.addr.port}` }));
