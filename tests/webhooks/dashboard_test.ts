/** `/ui/webhooks` shows hooks with their deliveries and notifications with their messages. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, sessionCookie } from "../support/app.ts";
import { createHook, hookWorld } from "./helpers.ts";
import { github } from "./signers.ts";

dbTest(
  "the webhooks page lists deliveries with outcome, run and reason; secrets never",
  async (db) => {
    const w = await hookWorld(db);
    await createHook(w, {
      name: "gh-push",
      provider: "github",
      secrets: ["very-secret-value"],
      filter: { events: ["push"] },
      parameters: { repo: "{{ body.repository.full_name }}", sha: "{{ body.after }}" },
    });
    const body = JSON.stringify({ after: "abc", repository: { full_name: "acme/app" } });
    const started = await w.deliver("gh-push", github("very-secret-value", body, "dlv-1"));
    assert.equal(started.status, 202);
    await w.deliver("gh-push", github("very-secret-value", body, "dlv-2", "issues"));
    await w.call("POST", "/deploy/notifications", {
      name: "ops",
      url: "http://127.0.0.1:9/hook",
      secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    });

    const cookie = await sessionCookie(w.app, ADMIN_KEY);
    const res = await w.app.request("/ui/webhooks", { headers: { cookie } });
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /gh-push/);
    assert.match(html, /POST \/trigger\/hooks\/gh-push/);
    assert.match(html, /dlv-1/);
    assert.match(html, new RegExp(`/ui/runs/${started.body.run_id}`));
    assert.match(html, /event issues is not in the filter/);
    assert.match(html, /ops/);
    assert.doesNotMatch(html, /very-secret-value|whsec_/);
    assert.match(html, /href="\/ui\/webhooks" class="on"/);
  },
);
