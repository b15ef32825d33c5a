/**
 * The dashboard's charts (issue 15), as served HTML: the runs list's
 * activity chart counts every run of the last 24 hours by state; a flow's
 * and a deployment's strip give success rate and duration p50/p95 over
 * their last finished runs. (tests/ui/charts_browser_test.ts screenshots them.)
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { sessionCookie, testApp } from "../support/app.ts";
import { ADMIN_KEY } from "../support/app.ts";
import { makeHistory } from "./charts_support.ts";
import { percentile } from "../../shared/ui/run_stats.ts";

dbTest(
  "the runs list charts runs per hour by state; flow and deployment pages their last runs",
  async (db) => {
    const { app, call } = testApp(db);
    await makeHistory(call);
    const cookie = await sessionCookie(app, ADMIN_KEY);
    const page = async (path: string) => {
      const res = await app.request(path, { headers: { cookie } });
      assert.equal(res.status, 200, path);
      return await res.text();
    };

    const runs = await page("/ui/runs");
    assert.match(runs, /<svg class="activity"/);
    const totals = [...runs.matchAll(/data-total="(\d+)"/g)].map((m) => Number(m[1]));
    assert.equal(totals.length, 24);
    assert.equal(totals.reduce((a, b) => a + b, 0), 11);
    const states = [...runs.matchAll(/<rect [^>]*data-state="(\w+)"/g)].map((m) => m[1]);
    for (const s of ["COMPLETED", "FAILED", "CANCELLED", "PENDING"]) {
      assert.ok(
        states.includes(s),
        s,
      );
    }
    assert.match(runs, /aria-label="Runs per hour over the last 24 hours: 11 runs"/);

    // 6 of the deployment's 9 finished runs completed; ad hoc pending runs are not finished.
    const deployments = await page("/ui/deployments");
    assert.match(deployments, /id="stats-nightly" data-runs="9" data-success="0.666/);
    assert.match(deployments, /<b>67 %<\/b>/);
    const flow = await page("/ui/flows/etl");
    assert.match(flow, /id="flow-stats" data-runs="9"/);
    assert.match(flow, /p50/);
    assert.match(flow, /p95/);
  },
);

Deno.test("percentiles interpolate between ranks, as percentile_cont does", () => {
  assert.equal(percentile([], 0.5), null);
  assert.equal(percentile([4], 0.95), 4);
  assert.equal(percentile([1, 2, 3, 4], 0.5), 2.5);
  assert.ok(Math.abs(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95)! - 9.55) < 1e-9);
});
