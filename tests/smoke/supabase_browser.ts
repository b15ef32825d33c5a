/**
 * The dashboard through the gateway in a real browser (Debian's chromium via
 * playwright-core, as tests/ui/browser_test.ts launches it): sign in at
 * /functions/v1/trigger/ui and see the run's page. Skipped, saying so, when
 * /usr/bin/chromium is missing.
 */
import assert from "node:assert/strict";

const CHROMIUM = "/usr/bin/chromium";

export async function browserCheck(gw: string, key: string, runId: string): Promise<void> {
  if (!await Deno.stat(CHROMIUM).then(() => true, () => false)) {
    console.log(`  browser check skipped: ${CHROMIUM} is missing (apt-get install chromium)`);
    return;
  }
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${gw}/functions/v1/trigger/ui`);
    assert.match(page.url(), /\/functions\/v1\/trigger\/ui\/login/);
    await page.fill("#key", key);
    await page.click("button.primary");
    await page.waitForURL(`${gw}/functions/v1/trigger/ui/runs`);
    await page.click(`a[href="/functions/v1/trigger/ui/runs/${runId}"]`);
    await page.waitForURL(`${gw}/functions/v1/trigger/ui/runs/${runId}`);
    assert.equal(await page.textContent("#run-status"), "COMPLETED");
    console.log("  browser: signed in at /functions/v1/trigger/ui and opened the run (COMPLETED)");
  } finally {
    await browser.close();
  }
}
