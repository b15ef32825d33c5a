/** `worker start`'s backend flags: mistakes are usage errors, an unreachable broker says so. */
import assert from "node:assert/strict";
import { runCli } from "../cli/harness.ts";

const env = { EDGEFLOW_URL: "http://127.0.0.1:9", EDGEFLOW_KEY: "k" };
const start = (...args: string[]) => runCli(["worker", "start", ...args], env);

Deno.test("worker start refuses backend flags that cannot work, before contacting anything", async () => {
  const none = await start("--pool", "p");
  assert.equal(none.code, 2);
  assert.match(none.stderr, /name a module of handlers, or pass --celery or --executor/);
  const both = await start("--celery", "redis://127.0.0.1:6379/0", "--executor", "docker");
  assert.equal(both.code, 2);
  assert.match(both.stderr, /choose --celery or --executor, not both/);
  const kind = await start("--executor", "kubernetes");
  assert.equal(kind.code, 2);
  assert.match(kind.stderr, /unknown executor kubernetes/);
  const handlers = await start("--handlers", "a,b", "examples/hello/handlers.ts");
  assert.equal(handlers.code, 2);
  assert.match(handlers.stderr, /--handlers goes with --celery or --executor/);
});

Deno.test("worker start says when the Celery broker cannot be reached", async () => {
  const down = await start("--celery", "redis://127.0.0.1:9/0");
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^error: cannot reach the Celery broker redis:\/\/127\.0\.0\.1:9\/0$/m);
  const bad = await start("--celery", "amqp://guest@localhost//");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /not a redis:\/\/ URL/);
});
