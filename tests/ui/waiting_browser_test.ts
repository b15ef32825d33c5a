/**
 * The run page's waiting notice in a real browser (issue 11, item 12): a
 * run nobody can work on says why, and the notice goes once a worker for
 * its handlers comes online and the run moves. Screenshot in tests/output/.
 *
 * Skipped, saying why, where /usr/bin/chromium is missing (.ci/run installs it).
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, sessionCookie, testApp } from "../support/app.ts";
import { driveRun, ETL } from "./support.ts";

const CHROMIUM = "/usr/bin/chromium";
const OUTPUT = new URL("../output/", import.meta.url);
const NAME = "dashboard in a browser: a run with no worker says so, until one comes";

const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);

if (!hasChromium) {
  Deno.test({
    name: `${NAME} (skipped: ${CHROMIUM} is missing; apt-get install chromium)`,
    ignore: true,
    fn() {},
  });
} else {
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
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
    });
    try {
      assert.equal((await call("POST", "/register", ETL)).status, 201);
      const run = await call("POST", "/trigger/flows/etl", { parameters: { day: "d1" } });
      assert.equal(run.status, 201);
      const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      const [name, value] = (await sessionCookie(app, ADMIN_KEY)).split("=");
      await context.addCookies([{ name, value, url: base }]);
      const page = await context.newPage();
      await page.goto(`${base}/ui/runs/${run.body.run_id}`);
      const notice = page.locator('#waiting li[data-waiting-step="extract"]');
      assert.equal(
        (await notice.textContent())?.trim(),
        "extract waits: no worker online for handler etl.extract in pool default",
      );
      assert.equal(await notice.isVisible(), true);
      await page.screenshot({
        path: new URL("run_waiting_no_worker.png", OUTPUT).pathname,
        fullPage: true,
      });

      // A worker comes and works the run: the live page drops the notice.
      assert.equal(await driveRun(call), 5);
      await page.waitForFunction(
        () => document.getElementById("run-status")?.textContent === "COMPLETED",
        undefined,
        { timeout: 15_000 },
      );
      // The status and the notice arrive in separate live updates: wait for both.
      await page.waitForFunction(() => document.getElementById("waiting") === null, undefined, {
        timeout: 15_000,
      });
      assert.equal(await page.locator("#waiting").count(), 0);
    } finally {
      await browser.close();
      await server.shutdown();
    }
  }, { only: Deno.env.get("DATABASE_URL") ? "postgres" : "pglite" });
}
