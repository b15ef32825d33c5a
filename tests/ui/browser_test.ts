// deno-lint-ignore-file no-explicit-any
/**
 * The dashboard in a real browser (Debian's chromium driven by
 * playwright-core): sign in, trigger a run from the form, watch its page
 * reach COMPLETED live while this test plays the worker over HTTP, then
 * pause a deployment. Screenshots go to tests/output/.
 *
 * Skipped, saying why, where /usr/bin/chromium is missing (.ci/run installs it).
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, testApp } from "../support/app.ts";
import { driveRun, ETL } from "./support.ts";

const CHROMIUM = "/usr/bin/chromium";
const OUTPUT = new URL("../output/", import.meta.url);
const NAME = "dashboard in a browser: a run turns green live, a deployment pauses";

const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);

if (!hasChromium) {
  Deno.test({
    name: `${NAME} (skipped: ${CHROMIUM} is missing; apt-get install chromium)`,
    ignore: true,
    fn() {},
  });
} else {
  // One database kind is enough to prove the browser side: real Postgres when there is one.
  dbTest(NAME, async (db) => {
    await Deno.mkdir(OUTPUT, { recursive: true });
    const { app } = testApp(db);
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.fetch);
    const base = `http://127.0.0.1:${server.addr.port}`;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    try {
      assert.equal((await call("POST", "/register", ETL)).status, 201);
      assert.equal(
        (await call("POST", "/deploy", {
          name: "etl-nightly",
          flow: "etl",
          parameters: { day: "2026-11-22" },
          schedules: [{ cron: "30 15 * * 1-5", timezone: "Asia/Kolkata" }, { interval: 3600 }],
        })).status,
        201,
      );

      const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
      const problems: string[] = [];
      page.on("pageerror", (e: Error) => problems.push(`page error: ${e.message}`));
      page.on("console", (m: any) => {
        // The 422 of the deliberately invalid form is expected; anything else is not.
        if (m.type() === "error" && !/status of 422/.test(m.text())) problems.push(m.text());
      });

      // Sign in: an unauthenticated visit lands on the form and comes back after it.
      await page.goto(`${base}/ui/deployments`);
      assert.match(page.url(), /\/ui\/login\?next=/);
      await page.fill("#key", ADMIN_KEY);
      await page.click("button.primary");
      await page.waitForURL(`${base}/ui/deployments`);

      // Trigger from the form; its schema check runs first.
      await page.goto(`${base}/ui/deployments/etl-nightly/trigger`);
      await page.fill("#p-rows", "-1");
      await page.click("button.primary");
      await page.waitForSelector("#form-errors");
      assert.match(await page.textContent("body") ?? "", /parameters\.rows/);
      await page.fill("#p-rows", "2");
      await page.click("button.primary");
      await page.waitForURL(/\/ui\/runs\/[0-9a-f-]{36}$/);
      const runId = page.url().split("/").pop()!;
      assert.equal(await page.textContent("#run-status"), "PENDING");
      await page.evaluate(() => ((globalThis as any).__notReloaded = true));

      // Play the worker over HTTP, one step at a time; the page must follow without a reload.
      const worker = driveRun(call, 450);
      // Midway: a step has moved on and the re-rendered table agrees with the DAG.
      await page.waitForFunction(
        () => {
          const node = document.querySelector('g[data-step="split"]')?.getAttribute("class");
          const row = document.querySelector("#step-split .badge")?.getAttribute("class");
          return !!node && !node.endsWith("PENDING") && node.split(" ")[1] === row?.split(" ")[1];
        },
        undefined,
        { timeout: 15_000 },
      );
      await page.screenshot({
        path: new URL("run_live_midway.png", OUTPUT).pathname,
        fullPage: true,
      });
      assert.equal(await worker, 5);
      await page.waitForFunction(
        () => document.getElementById("run-status")?.textContent === "COMPLETED",
        undefined,
        { timeout: 15_000 },
      );
      // The re-rendered part follows too: every node and row, and no cancel button.
      await page.waitForFunction(
        () =>
          document.querySelectorAll("g.node.s-COMPLETED").length === 4 &&
          document.querySelectorAll("#steps .badge.s-COMPLETED").length === 4 &&
          !document.querySelector("#live button.danger"),
        undefined,
        { timeout: 5_000 },
      );
      assert.equal(await page.evaluate(() => (globalThis as any).__notReloaded), true);
      assert.match(await page.textContent("#steps") ?? "", /etl\.report/);
      await page.screenshot({
        path: new URL("run_completed.png", OUTPUT).pathname,
        fullPage: true,
      });
      const run = await call("GET", `/trigger/runs/${runId}`);
      assert.equal(run.body.status, "COMPLETED");

      // Pause the deployment: its badge and its schedules say so.
      await page.goto(`${base}/ui/deployments`);
      assert.equal(await page.textContent("#state-etl-nightly"), "ACTIVE");
      await page.click('#deployment-etl-nightly button[data-action="pause"]');
      await page.waitForSelector("#state-etl-nightly.s-PAUSED");
      const card = await page.textContent("#deployment-etl-nightly") ?? "";
      assert.equal((card.match(/paused/g) ?? []).length, 2, "both schedules show paused");
      await page.screenshot({
        path: new URL("deployment_paused.png", OUTPUT).pathname,
        fullPage: true,
      });
      assert.equal((await call("GET", "/deploy/deployments/etl-nightly")).body.paused, true);
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
      await server.shutdown();
    }
  }, { only: Deno.env.get("DATABASE_URL") ? "postgres" : "pglite" });
}
