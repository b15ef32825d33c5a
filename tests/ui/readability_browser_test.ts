// deno-lint-ignore-file no-explicit-any
/**
 * The dashboard as a newcomer reads it, in a real browser (Debian's chromium
 * driven by playwright-core): DAG edges that go around boxes (measured on the
 * rendered paths), readable text on queued and pending steps (contrast of
 * the computed colours), a failed step's message with a folded stack, an
 * empty filtered list that says so, a runs list that follows new runs, times
 * with their zone, and pages that fit a 390 px phone. Screenshots go to
 * tests/output/.
 *
 * Skipped, saying why, where /usr/bin/chromium is missing (.ci/run installs it).
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, testApp } from "../support/app.ts";

const CHROMIUM = "/usr/bin/chromium";
const OUTPUT = new URL("../output/", import.meta.url);
const NAME =
  "dashboard readability: routed DAG edges, AA contrast, folded stacks, empty filters, a live list, 390 px";

const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);

const PIPELINE = {
  name: "pipeline",
  steps: [
    { slug: "extract" },
    { slug: "clean", depends_on: ["extract"] },
    { slug: "validate", depends_on: ["extract"] },
    { slug: "enrich", depends_on: ["clean"] },
    { slug: "score", depends_on: ["validate"] },
    { slug: "join", depends_on: ["enrich", "score"] },
    { slug: "report", depends_on: ["extract", "join"] },
  ],
};
const FRAGILE = { name: "fragile", defaults: { max_attempts: 1 }, steps: [{ slug: "write" }] };
const STACK =
  "Error: the disk is full\n    at write (handlers.ts:3:9)\n    at run (worker.ts:88:11)";

/** WCAG contrast of two `rgb(r, g, b)` colours as the browser computes them. */
function contrast(a: string, b: string): number {
  const lum = (c: string) => {
    const [r, g, bl] = c.match(/\d+/g)!.slice(0, 3).map((v) => Number(v) / 255)
      .map((v) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

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
    const claim = async (handler: string) => {
      const hb = await call("POST", "/heartbeat", {
        worker: "w-read",
        pool: "default",
        capacity: 1,
        handlers: [handler],
      });
      assert.equal(hb.body.tasks.length, 1, JSON.stringify(hb.body));
      return hb.body.tasks[0];
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
      for (const flow of [PIPELINE, FRAGILE]) {
        assert.equal((await call("POST", "/register", flow)).status, 201);
      }
      assert.equal(
        (await call("POST", "/deploy", {
          name: "pipeline-daily",
          flow: "pipeline",
          schedules: [{ cron: "30 15 * * *", timezone: "Asia/Kolkata" }],
        })).status,
        201,
      );
      // The pipeline: extract done, clean and validate QUEUED, the rest PENDING.
      const pipeline = (await call("POST", "/trigger/flows/pipeline", {})).body.run_id;
      const first = await claim("extract");
      await call("POST", `/heartbeat/tasks/${first.task}/complete`, {
        lease: first.lease,
        output: 1,
      });
      // The fragile run fails with a two-line message and a stack.
      const fragile = (await call("POST", "/trigger/flows/fragile", {})).body.run_id;
      const write = await claim("write");
      const failed = await call("POST", `/heartbeat/tasks/${write.task}/fail`, {
        lease: write.lease,
        error: {
          message: "the disk is full\nwhile writing /data/out.csv",
          type: "Error",
          stack: STACK,
          retryable: false,
        },
      });
      assert.equal(failed.status, 200, JSON.stringify(failed.body));

      const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on("pageerror", (e: Error) => problems.push(`page error: ${e.message}`));
      page.on("console", (m: any) => m.type() === "error" && problems.push(m.text()));
      await page.goto(`${base}/`);
      assert.match(page.url(), /\/ui\/login\?next=/, "/ leads to the dashboard's sign-in");
      await page.fill("#key", ADMIN_KEY);
      await page.click("button.primary");
      await page.waitForURL(/\/ui\/runs$/);

      // The run page: the DAG's edges, sampled as drawn, stay out of every other box.
      await page.goto(`${base}/ui/runs/${pipeline}`);
      await page.waitForSelector("g.node.s-QUEUED");
      const through = await page.evaluate(() => {
        const boxes = [...document.querySelectorAll("g.node")].map((g) => ({
          slug: g.getAttribute("data-step")!,
          box: (g.querySelector("rect") as SVGGraphicsElement).getBoundingClientRect(),
        }));
        const bad: string[] = [];
        for (const path of document.querySelectorAll("path.edge") as NodeListOf<SVGPathElement>) {
          const [from, to] = path.getAttribute("data-edge")!.split("->");
          const ctm = path.getScreenCTM()!;
          const length = path.getTotalLength();
          for (let i = 0; i <= 200; i++) {
            const p = path.getPointAtLength((length * i) / 200).matrixTransform(ctm);
            for (const { slug, box } of boxes) {
              if (slug === from || slug === to) continue;
              if (
                p.x > box.left + 1 && p.x < box.right - 1 && p.y > box.top + 1 &&
                p.y < box.bottom - 1
              ) bad.push(`${from}->${to} through ${slug}`);
            }
          }
        }
        return [...new Set(bad)];
      });
      assert.deepEqual(through, [], "no edge crosses another step's box");
      // Text on queued and pending nodes (and their badges) reads at WCAG AA.
      const colours = await page.evaluate(() =>
        [...document.querySelectorAll("g.node.s-QUEUED, g.node.s-PENDING, .badge")].map((el) => {
          const isNode = el.tagName.toLowerCase() === "g";
          const fill = isNode
            ? getComputedStyle(el.querySelector("rect")!).fill
            : getComputedStyle(el).backgroundColor;
          const text = isNode
            ? getComputedStyle(el.querySelector("text")!).fill
            : getComputedStyle(el).color;
          return { what: el.getAttribute("class")!, fill, text };
        })
      );
      assert.ok(colours.some((c) => c.what.includes("s-QUEUED")));
      assert.ok(colours.some((c) => c.what.includes("s-PENDING")));
      for (const c of colours) {
        const ratio = contrast(c.fill, c.text);
        assert.ok(ratio >= 4.5, `${c.what}: ${c.text} on ${c.fill} is ${ratio.toFixed(2)}:1`);
      }
      const heads = await page.$$eval("#steps th", (ths: any[]) => ths.map((t) => t.textContent));
      assert.ok(
        heads.includes("Tasks") && heads.includes("Retries") && !heads.includes("Attempts"),
      );
      assert.match(await page.textContent("#live time") ?? "", / UTC$/, "times say their zone");
      await page.screenshot({
        path: new URL("run_dag_routed.png", OUTPUT).pathname,
        fullPage: true,
      });

      // A failed step: the message as text, the stack folded until asked for.
      await page.goto(`${base}/ui/runs/${fragile}`);
      const cell = page.locator("#step-write .err");
      const message = await cell.locator(".err-msg").innerText();
      assert.match(message, /the disk is full\nwhile writing \/data\/out\.csv/);
      assert.doesNotMatch(await cell.innerText(), /\\n|\{"message"/, "no raw JSON");
      assert.equal(await cell.locator("details").getAttribute("open"), null, "folded");
      assert.equal(await cell.locator(".err-stack").isVisible(), false);
      await cell.locator("summary").click();
      assert.match(await cell.locator(".err-stack").innerText(), /at write \(handlers\.ts:3:9\)/);
      await page.screenshot({
        path: new URL("run_failed_stack.png", OUTPUT).pathname,
        fullPage: true,
      });

      // An empty filtered list names the filter.
      await page.goto(`${base}/ui/runs?status=CRASHED`);
      assert.equal((await page.textContent("#no-runs"))?.trim(), "No CRASHED runs.");

      // The runs list follows new runs without a reload.
      await page.goto(`${base}/ui/runs`);
      await page.evaluate(() => ((globalThis as any).__notReloaded = true));
      const fresh = (await call("POST", "/trigger/pipeline-daily", {})).body.run_id;
      await page.waitForSelector(`tr[data-run="${fresh}"]`, { timeout: 15_000 });
      assert.equal(await page.evaluate(() => (globalThis as any).__notReloaded), true);
      await page.screenshot({ path: new URL("runs_live.png", OUTPUT).pathname, fullPage: true });

      // The next fire time reads in the schedule's zone.
      await page.goto(`${base}/ui/deployments`);
      assert.match(await page.textContent("body") ?? "", /\d{2}:30:00 Asia\/Kolkata/);

      // A phone: no page wider than the screen; wide tables and the DAG scroll inside.
      const phone = await context.newPage();
      await phone.setViewportSize({ width: 390, height: 844 });
      for (
        const [path, shot] of [
          ["/ui/runs", "phone_runs.png"],
          [`/ui/runs/${pipeline}`, "phone_run.png"],
          [`/ui/runs/${fragile}`, "phone_run_failed.png"],
          ["/ui/deployments", "phone_deployments.png"],
        ]
      ) {
        await phone.goto(base + path);
        const width = await phone.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 390, `${path} is ${width} px wide at 390 px`);
        await phone.screenshot({ path: new URL(shot, OUTPUT).pathname, fullPage: true });
      }
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
      await server.shutdown();
    }
  }, { only: Deno.env.get("DATABASE_URL") ? "postgres" : "pglite" });
}
