/**
 * The charts in a real browser (Debian's chromium through playwright-core):
 * the runs list's activity chart, the deployments page's last-runs strips
 * and a flow page, each screenshotted to tests/output/ (charts_*.png) and
 * checked to have drawn its bars at a visible size.
 *
 * Skipped, saying why, where /usr/bin/chromium is missing (.ci/run installs it).
 */
import assert from "node:assert/strict";
import { ADMIN_KEY } from "../support/app.ts";
import { browserTest, OUTPUT } from "./browser.ts";
import { makeHistory } from "./charts_support.ts";

const NAME = "charts in a browser: activity per hour, success rate and durations";

browserTest(NAME, async ({ base, call, browser }) => {
  await makeHistory(call);
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  await page.goto(`${base}/ui/login?next=/ui/runs`);
  await page.fill("#key", ADMIN_KEY);
  await page.click("button.primary");
  await page.waitForURL(`${base}/ui/runs`);

  const chart = await page.locator("#activity-chart svg").boundingBox();
  assert.ok(chart && chart.width > 300 && chart.height > 60, JSON.stringify(chart));
  const tallest = await page.evaluate(() =>
    Math.max(
      ...[...document.querySelectorAll("#activity-chart rect")].map((r) =>
        r.getBoundingClientRect().height
      ),
    )
  );
  assert.ok(tallest > 50, `tallest bar ${tallest}px`);
  await page.screenshot({ path: new URL("charts_runs.png", OUTPUT).pathname });

  await page.goto(`${base}/ui/deployments`);
  const strip = await page.locator("#stats-nightly svg").boundingBox();
  assert.ok(strip && strip.width > 100, JSON.stringify(strip));
  assert.match(await page.textContent("#stats-nightly") ?? "", /67 %\s*success/);
  await page.screenshot({ path: new URL("charts_deployments.png", OUTPUT).pathname });

  await page.goto(`${base}/ui/flows/etl`);
  assert.ok(await page.locator("#flow-stats svg rect").count() >= 9);
  await page.screenshot({ path: new URL("charts_flow.png", OUTPUT).pathname });
}, { only: "pglite" });
