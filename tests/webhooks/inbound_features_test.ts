// deno-lint-ignore-file no-explicit-any
/**
 * What a hook does with a verified delivery: handshakes, filters, mapping
 * with JSON types, 422 recorded and tried afresh, the delivery log,
 * redelivery, retention, and the management API's refusals.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { advanceClock } from "../support/clock.ts";
import { createHook, hookWorld } from "./helpers.ts";
import * as sign from "./signers.ts";

const GH = "gh-secret";
const push = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    ref: "refs/heads/main",
    after: "abc123",
    size: 3,
    commits: [{ id: "c1" }, { id: "c2" }],
    repository: { full_name: "acme/app" },
    ...extra,
  });

dbTest("GitHub's ping and Slack's url_verification are answered without a run", async (db) => {
  const w = await hookWorld(db);
  await createHook(w, { name: "gh", provider: "github", secrets: [GH] });
  const ping = await w.deliver(
    "gh",
    sign.github(GH, JSON.stringify({ zen: "Keep it simple." }), "p1", "ping"),
  );
  assert.equal(ping.status, 200);
  assert.deepEqual(ping.body, { ping: "pong", zen: "Keep it simple." });
  await createHook(w, { name: "sl", provider: "slack", secrets: ["sl-secret"] });
  const body = JSON.stringify({
    type: "url_verification",
    challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
  });
  const challenge = await w.deliver(
    "sl",
    sign.slack("sl-secret", body, Math.floor(w.clock.now.getTime() / 1000)),
  );
  assert.equal(challenge.status, 200);
  assert.equal(challenge.body.challenge, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
  // An unsigned challenge is still refused: the handshake comes after verification.
  const forged = await w.deliver(
    "sl",
    sign.slack("wrong", body, Math.floor(w.clock.now.getTime() / 1000)),
  );
  assert.equal(forged.status, 401);
  assert.equal((await w.runs()).length, 0);
  assert.equal((await db.sql`select 1 from edgeflow.webhook_deliveries`).length, 0);
});

dbTest(
  "filters: an event not listed or a body not matching is ignored, recorded, and repeats say so",
  async (db) => {
    const w = await hookWorld(db);
    await createHook(w, {
      name: "gh",
      provider: "github",
      secrets: [GH],
      filter: { events: ["push"], match: { "/ref": "refs/heads/main" } },
      parameters: { repo: "{{ body.repository.full_name }}", sha: "{{ body.after }}" },
    });
    const issue = await w.deliver("gh", sign.github(GH, push(), "f1", "issues"));
    assert.equal(issue.status, 200);
    assert.match(issue.body.ignored, /event issues is not in the filter/);
    const branch = await w.deliver("gh", sign.github(GH, push({ ref: "refs/heads/dev" }), "f2"));
    assert.equal(branch.status, 200);
    assert.match(branch.body.ignored, /\/ref is "refs\/heads\/dev"/);
    const again = await w.deliver("gh", sign.github(GH, push({ ref: "refs/heads/dev" }), "f2"));
    assert.equal(again.status, 200);
    assert.equal(again.body.ignored, branch.body.ignored);
    assert.equal((await w.runs()).length, 0);
    const main = await w.deliver("gh", sign.github(GH, push(), "f3"));
    assert.equal(main.status, 202);
    const log = await w.call("GET", "/deploy/webhooks/gh/deliveries");
    assert.deepEqual(log.body.deliveries.map((d: any) => [d.delivery_id, d.outcome]), [
      ["f3", "started"],
      ["f2", "ignored"],
      ["f1", "ignored"],
    ]);
  },
);

dbTest("mapping keeps JSON types for whole expressions and interpolates the rest", async (db) => {
  const w = await hookWorld(db);
  await createHook(w, {
    name: "gh",
    provider: "github",
    secrets: [GH],
    parameters: {
      repo: "{{ body.repository.full_name }}",
      sha: "{{ body.after }}",
      size: "{{ body.size }}",
      commits: "{{ body.commits }}",
      label: "{{ headers.x-github-event }} of {{ body.commits[1].id }} to {{ query.env }}",
    },
  });
  const res = await w.deliver("gh", sign.github(GH, push(), "m1"), "?env=prod");
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const [run] = await w.runs();
  assert.deepEqual(run.parameters, {
    repo: "acme/app",
    sha: "abc123",
    size: 3,
    commits: [{ id: "c1" }, { id: "c2" }],
    label: "push of c2 to prod",
  });
});

dbTest(
  "a mapping the flow's schema refuses is 422 with paths, recorded, and tried afresh once fixed",
  async (db) => {
    const w = await hookWorld(db);
    await createHook(w, {
      name: "gh",
      provider: "github",
      secrets: [GH],
      parameters: { repo: "{{ body.repository.full_name }}", sha: "{{ body.head_commit.id }}" },
    });
    const signed = sign.github(GH, push(), "x1");
    const res = await w.deliver("gh", signed);
    assert.equal(res.status, 422);
    assert.equal(res.body.code, "validation_failed");
    assert.ok(
      res.body.errors.some((e: any) => e.path === "parameters.sha"),
      JSON.stringify(res.body),
    );
    assert.ok(res.body.errors.some((e: any) => /body.head_commit.id is missing/.test(e.message)));
    assert.ok(res.body.delivery);
    const [logged] = (await w.call("GET", "/deploy/webhooks/gh/deliveries")).body.deliveries;
    assert.equal(logged.outcome, "failed");
    assert.equal(logged.error.code, "validation_failed");
    assert.equal((await w.runs()).length, 0);

    // The mapping is fixed; the provider's retry of the same delivery id now starts the run.
    await createHook(w, {
      name: "gh",
      provider: "github",
      secrets: [GH],
      parameters: { repo: "{{ body.repository.full_name }}", sha: "{{ body.after }}" },
    });
    const retry = await w.deliver("gh", signed);
    assert.equal(retry.status, 202, JSON.stringify(retry.body));
    assert.equal((await w.runs()).length, 1);
  },
);

dbTest(
  "redeliver replays a stored payload as a new delivery; payloads expire after 7 days",
  async (db) => {
    const w = await hookWorld(db);
    await createHook(w, {
      name: "gh",
      provider: "github",
      secrets: [GH],
      parameters: { repo: "{{ body.repository.full_name }}", sha: "{{ body.after }}" },
    });
    const first = await w.deliver("gh", sign.github(GH, push(), "r1"));
    assert.equal(first.status, 202);
    const again = await w.call(
      "POST",
      `/deploy/webhooks/gh/deliveries/${first.body.delivery}/redeliver`,
    );
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.notEqual(again.body.run_id, first.body.run_id);
    const runs = await w.runs();
    assert.equal(runs.length, 2);
    assert.deepEqual(runs[1].parameters, runs[0].parameters);
    const log = (await w.call("GET", "/deploy/webhooks/gh/deliveries")).body.deliveries;
    assert.equal(log[0].redelivery_of, first.body.delivery);
    assert.equal(
      (await w.call("POST", `/deploy/webhooks/gh/deliveries/${crypto.randomUUID()}/redeliver`))
        .status,
      404,
    );
    assert.equal(
      (await w.call("POST", "/deploy/webhooks/gh/deliveries/not-a-uuid/redeliver")).status,
      404,
    );

    // Eight days on, the tick drops the payloads (the log rows stay for 30 days).
    await advanceClock(db.sql, 8 * 86_400);
    const tick = await w.call("POST", "/trigger/tick");
    assert.equal(tick.body.notifications.pruned, 2);
    const kept = (await w.call("GET", "/deploy/webhooks/gh/deliveries")).body.deliveries;
    assert.equal(kept.length, 2);
    assert.ok(kept.every((d: any) => d.payload_kept === false));
    const late = await w.call(
      "POST",
      `/deploy/webhooks/gh/deliveries/${first.body.delivery}/redeliver`,
    );
    assert.equal(late.status, 409);
    await advanceClock(db.sql, 30 * 86_400);
    await w.call("POST", "/trigger/tick");
    assert.equal((await w.call("GET", "/deploy/webhooks/gh/deliveries")).body.deliveries.length, 0);
  },
);

dbTest(
  "unknown and inactive hooks are 404 and store nothing; a paused deployment's delivery fails 409",
  async (db) => {
    const w = await hookWorld(db);
    const none = await w.deliver("nope", sign.github(GH, push(), "u1"));
    assert.equal(none.status, 404);
    await createHook(w, {
      name: "gh",
      provider: "github",
      secrets: [GH],
      active: false,
      parameters: { repo: "r", sha: "s" },
    });
    const inactive = await w.deliver("gh", sign.github(GH, push(), "u2"));
    assert.equal(inactive.status, 404);
    assert.equal((await w.call("GET", "/deploy/webhooks/gh")).body.rejected, 1);
    assert.equal((await db.sql`select 1 from edgeflow.webhook_deliveries`).length, 0);

    await createHook(w, {
      name: "gh",
      provider: "github",
      secrets: [GH],
      parameters: { repo: "r", sha: "s" },
    });
    await w.call("POST", "/deploy", { name: "ci-build", flow: "ci", paused: true });
    const paused = await w.deliver("gh", sign.github(GH, push(), "u3"));
    assert.equal(paused.status, 409);
    assert.equal(paused.body.code, "paused");
    await w.call("POST", "/deploy", { name: "ci-build", flow: "ci", paused: false });
    assert.equal((await w.deliver("gh", sign.github(GH, push(), "u3"))).status, 202);
  },
);

dbTest(
  "the management API: create 201, update 200, list, show, delete; bad bodies name the field",
  async (db) => {
    const w = await hookWorld(db);
    const created = await w.call("POST", "/deploy/webhooks", {
      name: "gh",
      deployment: "ci-build",
      provider: "github",
      secrets: [GH],
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.url, "/trigger/hooks/gh");
    const updated = await w.call("POST", "/deploy/webhooks", {
      name: "gh",
      deployment: "ci-build",
      provider: "github",
      secrets: [GH, "next"],
    });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.secrets, 2);
    assert.deepEqual(
      (await w.call("GET", "/deploy/webhooks")).body.webhooks.map((h: any) => h.name),
      ["gh"],
    );
    assert.ok(!JSON.stringify((await w.call("GET", "/deploy/webhooks")).body).includes(GH));
    const bad: [Record<string, unknown>, string][] = [
      [{ name: "x", deployment: "nope", provider: "github", secrets: [GH] }, "deployment"],
      [{ name: "x", deployment: "ci-build", provider: "gitlab", secrets: [GH] }, "provider"],
      [{ name: "x", deployment: "ci-build", provider: "github", secrets: [] }, "secrets"],
      [
        { name: "x", deployment: "ci-build", provider: "standard", secrets: ["plain"] },
        "secrets[0]",
      ],
      [{
        name: "x",
        deployment: "ci-build",
        provider: "github",
        secrets: [GH],
        parameters: { a: "{{ env.HOME }}" },
      }, "parameters.a"],
      [{
        name: "x",
        deployment: "ci-build",
        provider: "github",
        secrets: [GH],
        filter: { match: { ref: 1 } },
      }, "filter.match.ref"],
      [{
        name: "x",
        deployment: "ci-build",
        provider: "github",
        secrets: [GH],
        signature_header: "x-sig",
      }, "signature_header"],
      [
        { name: "x", deployment: "ci-build", provider: "hmac", secrets: [GH], encoding: "hex2" },
        "encoding",
      ],
    ];
    for (const [body, path] of bad) {
      const res = await w.call("POST", "/deploy/webhooks", body);
      assert.equal(res.status, 422, JSON.stringify(body));
      assert.ok(
        res.body.errors.some((e: any) => e.path === path),
        `${path}: ${JSON.stringify(res.body.errors)}`,
      );
    }
    assert.equal((await w.call("GET", "/deploy/webhooks")).body.webhooks.length, 1);
    assert.equal(
      (await w.call("GET", "/deploy/webhooks/gh", undefined, { key: null })).status,
      401,
    );
    assert.equal((await w.call("DELETE", "/deploy/webhooks/gh")).status, 200);
    assert.equal((await w.call("GET", "/deploy/webhooks/gh")).status, 404);
    assert.equal((await w.call("DELETE", "/deploy/webhooks/gh")).status, 404);
  },
);

dbTest(
  "a mapping that would build more than 1 MiB fails the delivery with 422 at parameters, no run",
  async (db) => {
    const w = await hookWorld(db);
    const many = Object.fromEntries(
      Array.from({ length: 150 }, (_, i) => [`copy${i}`, "{{ body.big }}!"]),
    );
    await createHook(w, {
      name: "gh",
      provider: "github",
      secrets: [GH],
      parameters: { repo: "{{ body.repository.full_name }}", sha: "{{ body.after }}", ...many },
    });
    const res = await w.deliver("gh", sign.github(GH, push({ big: "b".repeat(900_000) }), "big1"));
    assert.equal(res.status, 422, JSON.stringify(res.body).slice(0, 300));
    assert.equal(res.body.errors[0].path, "parameters");
    assert.match(res.body.errors[0].message, /larger than 1 MiB/);
    assert.equal((await w.runs()).length, 0);
  },
);
