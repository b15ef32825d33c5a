/**
 * The child-process helper the Celery and container tests stop their
 * processes with: a process that ignores SIGTERM (a warm shutdown that never
 * ends) is killed with its children, and stop() returns instead of holding
 * the suite.
 */
import assert from "node:assert/strict";
import { startProcess } from "./helpers.ts";

Deno.test("stop() kills a process that ignores SIGTERM, and the child holding its output", async () => {
  const proc = startProcess("sh", ["-c", 'trap "" TERM; echo up; sleep 1000 & wait'], {});
  for (let i = 0; i < 100 && !proc.output().includes("up"); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(proc.output(), /up/);
  await proc.stop(300);
  const left = new Deno.Command("pgrep", { args: ["-f", "sleep 1000"], stdout: "piped" })
    .outputSync();
  assert.equal(new TextDecoder().decode(left.stdout).trim(), "");
});

Deno.test("a database test that outlives its deadline fails, naming itself", async () => {
  const { withDeadline } = await import("../support/db.ts");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const never = new Promise<void>((resolve) => (timer = setTimeout(resolve, 60_000)));
  await assert.rejects(
    withDeadline("[pglite] stuck", 50, () => never),
    /\[pglite\] stuck: still running after 0.05 s/,
  );
  clearTimeout(timer);
  assert.equal(await withDeadline("quick", 1_000, () => Promise.resolve(7)), 7);
});
