/**
 * The run page says why a step waits (issue 11, item 12): a notice per
 * held-back step, gone once a worker that serves the handler is online.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, sessionCookie, testApp } from "../support/app.ts";
import { ETL } from "./support.ts";

dbTest("the run page shows a notice per waiting step, and none once it can run", async (db) => {
  const t = testApp(db);
  assert.equal((await t.call("POST", "/register", ETL)).status, 201);
  const run = await t.call("POST", "/trigger/flows/etl", { parameters: { day: "d1" } });
  assert.equal(run.status, 201, JSON.stringify(run.body));
  const cookie = await sessionCookie(t.app, ADMIN_KEY);
  const page = async (path: string) => {
    const res = await t.app.request(path, { headers: { cookie } });
    assert.equal(res.status, 200);
    return await res.text();
  };
  for (const path of [`/ui/runs/${run.body.run_id}`, `/ui/runs/${run.body.run_id}/live`]) {
    const html = await page(path);
    assert.match(
      html,
      /<li data-waiting-step="extract" data-reason="no_worker"><b>extract<\/b> waits: no worker online for handler etl.extract in pool default<\/li>/,
    );
    assert.equal(html.match(/data-waiting-step=/g)?.length, 1, "later steps wait for extract");
  }
  await t.call("POST", "/heartbeat", { worker: "w", pool: "default", capacity: 0 });
  assert.doesNotMatch(await page(`/ui/runs/${run.body.run_id}/live`), /id="waiting"/);
});
