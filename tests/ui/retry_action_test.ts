/** The run page's Retry form: same-origin POST only, the API's checks, and a page for refusals. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, sessionCookie, testApp } from "../support/app.ts";

dbTest(
  "the Retry form retries a failed run; forged, read-only and bad posts change nothing",
  async (db) => {
    const { app, call } = testApp(db);
    await call("POST", "/register", {
      name: "one",
      steps: [{ slug: "a", max_attempts: 1 }, { slug: "b", depends_on: ["a"] }],
    });
    const runId = (await call("POST", "/trigger/flows/one", {})).body.run_id;
    const [t] = (await call("POST", "/heartbeat", { worker: "w", pool: "default", capacity: 1 }))
      .body.tasks;
    await call("POST", `/heartbeat/tasks/${t.task}/fail`, {
      lease: t.lease,
      error: { message: "no", retryable: false },
    });
    const admin = await sessionCookie(app, ADMIN_KEY);
    const viewerKey =
      (await call("POST", "/deploy/keys", { name: "v", scopes: ["read"] })).body.key;
    const viewer = await sessionCookie(app, viewerKey);
    const post = (cookie: string, form: Record<string, string>, origin = "http://localhost") =>
      app.request(`/ui/runs/${runId}/retry`, {
        method: "POST",
        headers: { cookie, origin, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(form).toString(),
        redirect: "manual",
      });
    const status = async () => (await call("GET", `/trigger/runs/${runId}`)).body.status;

    const page = await app.request(`/ui/runs/${runId}`, { headers: { cookie: admin } });
    const html = await page.text();
    assert.match(html, /id="retry"/);
    assert.match(html, /<option value="b">b<\/option>/);
    const viewerPage = await app.request(`/ui/runs/${runId}`, { headers: { cookie: viewer } });
    assert.doesNotMatch(await viewerPage.text(), /Retry run/);

    assert.equal((await post(admin, {}, "https://evil.example")).status, 403);
    assert.equal((await post(viewer, {})).status, 403);
    const unknown = await post(admin, { from_step: "zzz" });
    assert.equal(unknown.status, 422);
    assert.match(await unknown.text(), /from_step/);
    assert.equal(await status(), "FAILED");

    const ok = await post(admin, {});
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get("location"), `/ui/runs/${runId}`);
    assert.equal(await status(), "PENDING");
    // Going again, the run is not finished: a second post is refused with a page saying why.
    const again = await post(admin, {});
    assert.equal(again.status, 409);
    assert.match(await again.text(), /only a FAILED, CRASHED or CANCELLED run can be retried/);
    const after = await app.request(`/ui/runs/${runId}`, { headers: { cookie: admin } });
    assert.doesNotMatch(await after.text(), /id="retry"/);
  },
);
