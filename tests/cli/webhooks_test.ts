/** `edgeflow webhooks …` against a served app: create, a real signed delivery, the log, redeliver. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, json, serveApp } from "./harness.ts";
import { github } from "../webhooks/signers.ts";

dbTest("webhooks create, ls, show, deliveries and redeliver", async (db) => {
  const server = serveApp(db);
  try {
    const api = (path: string, body: unknown) =>
      fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then((r) => r.json());
    await api("/register", { name: "ci", steps: [{ slug: "build" }] });
    await api("/deploy", { name: "ci-build", flow: "ci" });

    const created = await server.cli([
      "webhooks",
      "create",
      "gh-push",
      "--deployment",
      "ci-build",
      "--provider",
      "github",
      "--secret",
      "s3cret",
      "--event",
      "push",
      "--match",
      "/ref=refs/heads/main",
      "--param",
      "repo={{ body.repository.full_name }}",
      "--param",
      "sha={{ body.after }}",
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /webhook gh-push created: POST \/trigger\/hooks\/gh-push/);

    const body = JSON.stringify({
      ref: "refs/heads/main",
      after: "abc",
      repository: { full_name: "acme/app" },
    });
    const signed = github("s3cret", body, "del-1");
    const res = await fetch(`${server.url}/trigger/hooks/gh-push`, {
      method: "POST",
      headers: signed.headers,
      body,
    });
    assert.equal(res.status, 202);
    const { run_id } = await res.json();

    const ls = await server.cli(["webhooks", "ls"]);
    assert.match(ls.stdout, /gh-push\s+github\s+ci-build\s+yes\s+0\s+\/trigger\/hooks\/gh-push/);
    const show = await server.cli(["webhooks", "show", "gh-push"]);
    assert.match(show.stdout, /secrets:\s+1 \(not shown\)/);
    assert.ok(!show.stdout.includes("s3cret"));
    const log = json(await server.cli(["webhooks", "deliveries", "gh-push", "--json"]));
    assert.equal(log.deliveries.length, 1);
    assert.equal(log.deliveries[0].run_id, run_id);
    assert.equal(log.deliveries[0].delivery_id, "del-1");

    const again = await server.cli(["webhooks", "redeliver", "gh-push", log.deliveries[0].id]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^started run [0-9a-f-]{36}/);
    const missing = await server.cli(["webhooks", "show", "nope"]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no webhook named nope/);
  } finally {
    await server.close();
  }
});
