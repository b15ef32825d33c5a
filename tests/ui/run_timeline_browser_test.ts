// deno-lint-ignore-file no-explicit-any
/**
 * The run page in a real browser (Debian's chromium, playwright-core): a
 * map step's task logs appear live, the timeline draws every task attempt
 * (queued, running, retry wait) beside the DAG, and the Retry button re-runs
 * only what failed. Screenshots go to tests/output/.
 *
 * Skipped, saying why, where /usr/bin/chromium is missing (.ci/run installs it).
 */
import assert from "node:assert/strict";
import { ADMIN_KEY, sessionCookie } from "../support/app.ts";
import { browserTest, OUTPUT } from "./browser.ts";

const NAME = "run page in a browser: live logs, the attempts timeline, retry from failure";

const FLOW = {
  name: "fan",
  steps: [
    { slug: "list", max_attempts: 1 },
    { slug: "each", depends_on: ["list"], map: "list", max_attempts: 2, base_delay: 1 },
    { slug: "sum", depends_on: ["each"], max_attempts: 1 },
  ],
};

/** Lets a task run a moment, so its bar has a width in the picture (not a wait for state). */
const busy = () => new Promise((r) => setTimeout(r, 120));

browserTest(NAME, async ({ app, base, call, browser }) => {
  /** Claims until `n` tasks came (polled with a deadline: a retry waits out its backoff). */
  const claim = async (n: number) => {
    const got: any[] = [];
    const until = Date.now() + 15_000;
    while (got.length < n) {
      if (Date.now() > until) throw new Error(`only ${got.length} of ${n} tasks came`);
      const beat = await call("POST", "/heartbeat", {
        worker: "w1",
        pool: "default",
        capacity: n - got.length,
      });
      got.push(...beat.body.tasks);
      if (got.length < n) await new Promise((r) => setTimeout(r, 100));
    }
    return got;
  };
  const log = (t: any, message: string, level = "info") =>
    call("POST", `/heartbeat/tasks/${t.task}/logs`, {
      lease: t.lease,
      lines: [{ level, message, fields: { item: t.input.item ?? null } }],
    });
  const complete = (t: any, output: unknown) =>
    call("POST", `/heartbeat/tasks/${t.task}/complete`, { lease: t.lease, output });
  const fail = (t: any, retryable: boolean) =>
    call("POST", `/heartbeat/tasks/${t.task}/fail`, {
      lease: t.lease,
      error: { message: `${t.step} broke`, retryable },
    });

  assert.equal((await call("POST", "/register", FLOW)).status, 201);
  const runId = (await call("POST", "/trigger/flows/fan", {})).body.run_id;
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const [name, value] = (await sessionCookie(app, ADMIN_KEY)).split("=");
  await context.addCookies([{ name, value, url: base }]);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e: Error) => problems.push(`page error: ${e.message}`));
  page.on("console", (m: any) => m.type() === "error" && problems.push(m.text()));
  await page.goto(`${base}/ui/runs/${runId}`);
  assert.match(await page.textContent("#logs") ?? "", /No log lines yet/);

  const [list] = await claim(1);
  await log(list, "listing three items");
  // The line shows up in the list step's block without a reload.
  await page.waitForSelector('pre[data-logs-step="list"] .log-line', { timeout: 10_000 });
  await busy();
  await complete(list, ["a", "b", "c"]);

  const each = await claim(3);
  for (const t of each) await log(t, `item ${t.input.item}`);
  await busy();
  for (const t of each) {
    if (t.input.item === "b") {
      await log(t, "b is flaky", "warn");
      await fail(t, true);
    } else await complete(t, t.input.item);
  }
  const [again] = await claim(1); // b's second attempt, after its retry wait
  assert.equal(again.attempt, 2);
  await busy();
  await complete(again, "b");
  const [sum] = await claim(1);
  await log(sum, "cannot add letters", "error");
  await busy();
  await fail(sum, false);

  await page.waitForFunction(
    () => document.getElementById("run-status")?.textContent === "FAILED",
    undefined,
    { timeout: 15_000 },
  );
  // The timeline: a row per task, b's retry wait and both its attempts, sum failed.
  await page.waitForFunction(
    () =>
      document.querySelectorAll("#timeline g.row").length === 5 &&
      !!document.querySelector('#timeline g.row[data-step="sum"] rect[data-outcome="FAILED"]'),
    undefined,
    { timeout: 10_000 },
  );
  const rows = await page.$$eval("#timeline g.row", (gs) =>
    gs.map((g) => ({
      label: g.querySelector("text")?.textContent,
      segs: [...g.querySelectorAll("rect")].map((r) =>
        `${r.getAttribute("data-kind")}${
          r.getAttribute("data-outcome") ? ":" + r.getAttribute("data-outcome") : ""
        }`
      ),
    })));
  assert.deepEqual(rows.map((r) => r.label), ["list", "each[0]", "each[1]", "each[2]", "sum"]);
  assert.deepEqual(rows[2].segs, ["queued", "running:FAILED", "retry", "running:COMPLETED"]);
  assert.deepEqual(rows[4].segs, ["queued", "running:FAILED"]);
  // Beside the DAG: the two pictures share a row at this width.
  const tops = await page.evaluate(() =>
    ["svg.dag", "svg.timeline"].map((s) => document.querySelector(s)!.getBoundingClientRect().top)
  );
  assert.equal(tops.length, 2);
  assert.ok(tops.every((t) => Number.isFinite(t)), JSON.stringify(tops));
  assert.equal(Math.round(tops[0]), Math.round(tops[1]));
  const logs = await page.textContent("#logs") ?? "";
  for (const line of ["listing three items", "item a", "b is flaky", "cannot add letters"]) {
    assert.ok(logs.includes(line), `the logs show "${line}"`);
  }
  // The Retry form comes with the live part once the run is final: wait for
  // it rather than read it in the same update (it raced once under load).
  await page.waitForSelector("#retry button", { state: "visible", timeout: 10_000 });
  assert.ok(await page.isVisible("#retry button"));
  // The top of the page (README's picture: docs/run_timeline.png is a copy).
  await page.screenshot({
    path: new URL("run_timeline_top.png", OUTPUT).pathname,
    clip: { x: 0, y: 0, width: 1400, height: 400 },
  });
  await page.screenshot({
    path: new URL("run_timeline_failed.png", OUTPUT).pathname,
    fullPage: true,
  });

  // Retry from failure: only sum runs again; the page follows the same run.
  await page.click("#retry button");
  await page.waitForURL(`${base}/ui/runs/${runId}`);
  await page.waitForFunction(
    () => document.getElementById("run-status")?.textContent === "PENDING",
    undefined,
    { timeout: 10_000 },
  );
  const [sum2] = await claim(1);
  assert.equal(sum2.step, "sum");
  assert.equal(sum2.attempt, 2);
  await log(sum2, "added after the fix");
  await busy();
  await complete(sum2, "abc");
  await page.waitForFunction(
    () =>
      document.getElementById("run-status")?.textContent === "COMPLETED" &&
      document.querySelectorAll('#timeline g.row[data-step="sum"] rect').length === 4,
    undefined,
    { timeout: 15_000 },
  );
  await page.waitForFunction(
    () => document.getElementById("logs")?.textContent?.includes("added after the fix"),
    undefined,
    { timeout: 10_000 },
  );
  assert.equal(await page.isVisible("#retry"), false);
  await page.screenshot({
    path: new URL("run_timeline_retried.png", OUTPUT).pathname,
    fullPage: true,
  });
  const run = (await call("GET", `/trigger/runs/${runId}`)).body;
  assert.equal(run.status, "COMPLETED");
  assert.equal(run.retries, 1);
  assert.deepEqual(problems, []);
}, { only: Deno.env.get("DATABASE_URL") ? "postgres" : "pglite" });
