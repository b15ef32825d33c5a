/**
 * Every provider through `POST /trigger/hooks/:name`, with signatures
 * computed the provider's way (tests/webhooks/signers.ts): valid, rotated
 * secret, forged, stale, replayed, body swapped, and 50 concurrent
 * redeliveries of one delivery → one run. On PGlite and Postgres.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { createHook, hookWorld } from "./helpers.ts";
import * as sign from "./signers.ts";
import type { Signed } from "./signers.ts";

interface Case {
  provider: string;
  secrets: [string, string];
  settings?: Record<string, unknown>;
  parameters: Record<string, unknown>;
  /** A delivery with this id, signed with `secret` at `at`. */
  signed(secret: string, id: string, at: Date, body?: string): Signed;
  body(id: string): string;
  /** The scheme carries a signed timestamp (so a stale one is refused). */
  timestamped: boolean;
  /** The scheme signs the body (a token does not). */
  bodySigned: boolean;
}

const secs = (d: Date) => Math.floor(d.getTime() / 1000);
const push = (id: string) =>
  JSON.stringify({
    ref: "refs/heads/main",
    after: `sha-${id}`,
    repository: { full_name: "acme/app" },
  });

const CASES: Case[] = [
  {
    provider: "github",
    secrets: ["gh-old-secret", "gh-new-secret"],
    parameters: {
      repo: "{{ body.repository.full_name }}",
      sha: "{{ body.after }}",
      event: "{{ headers.x-github-event }}",
    },
    body: push,
    signed: (s, id, _at, body = push(id)) => sign.github(s, body, id),
    timestamped: false,
    bodySigned: true,
  },
  {
    provider: "stripe",
    secrets: ["whsec_stripe_old", "whsec_stripe_new"],
    parameters: {
      repo: "{{ body.data.object.customer }}",
      sha: "{{ body.id }}",
      event: "{{ body.type }}",
    },
    body: (id) =>
      JSON.stringify({ id, type: "invoice.paid", data: { object: { customer: "cus_1" } } }),
    signed: (
      s,
      id,
      at,
      body = JSON.stringify({ id, type: "invoice.paid", data: { object: { customer: "cus_1" } } }),
    ) => sign.stripe(s, body, secs(at)),
    timestamped: true,
    bodySigned: true,
  },
  {
    provider: "standard",
    secrets: [
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      "whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==",
    ],
    parameters: {
      repo: "{{ body.data.repo }}",
      sha: "{{ headers.webhook-id }}",
      event: "{{ body.type }}",
    },
    body: (id) => JSON.stringify({ type: "build.requested", data: { repo: "acme/app", n: id } }),
    signed: (
      s,
      id,
      at,
      body = JSON.stringify({ type: "build.requested", data: { repo: "acme/app", n: id } }),
    ) => sign.standard(s, body, id, at),
    timestamped: true,
    bodySigned: true,
  },
  {
    provider: "slack",
    secrets: ["slack-old-signing", "slack-new-signing"],
    parameters: {
      repo: "{{ body.event.text }}",
      sha: "{{ body.event_id }}",
      event: "{{ body.event.type }}",
    },
    body: (id) =>
      JSON.stringify({
        type: "event_callback",
        event_id: id,
        event: { type: "app_mention", text: "acme/app" },
      }),
    signed: (
      s,
      id,
      at,
      body = JSON.stringify({
        type: "event_callback",
        event_id: id,
        event: { type: "app_mention", text: "acme/app" },
      }),
    ) => sign.slack(s, body, secs(at)),
    timestamped: true,
    bodySigned: true,
  },
  {
    provider: "hmac",
    secrets: ["hmac-old", "hmac-new"],
    settings: {
      signature_header: "x-signature",
      encoding: "base64",
      prefix: "sha256=",
      delivery_header: "x-delivery",
    },
    parameters: {
      repo: "{{ body.repository.full_name }}",
      sha: "{{ body.after }}",
      event: "{{ query.source }}",
    },
    body: push,
    signed: (s, id, _at, body = push(id)) => sign.hmacBase64(s, body, id),
    timestamped: false,
    bodySigned: true,
  },
  {
    provider: "token",
    secrets: ["glpat-old-token", "glpat-new-token"],
    settings: { token_header: "x-gitlab-token", delivery_header: "x-delivery" },
    parameters: { repo: "{{ body.repository.full_name }}", sha: "{{ body.after }}" },
    body: push,
    signed: (s, id, _at, body = push(id)) => sign.token(s, body, id),
    timestamped: false,
    bodySigned: false,
  },
];

for (const c of CASES) {
  dbTest(
    `${c.provider}: valid, rotated, forged, stale, replayed, swapped, 50 concurrent redeliveries`,
    async (db) => {
      const w = await hookWorld(db);
      const hook = await createHook(w, {
        name: `h-${c.provider}`,
        provider: c.provider,
        secrets: c.secrets,
        parameters: c.parameters,
        ...c.settings,
      });
      assert.equal(hook.url, `/trigger/hooks/h-${c.provider}`);
      assert.equal(hook.secrets, 2, "only the number of secrets is shown");
      assert.ok(!JSON.stringify(hook).includes(c.secrets[0]), "a secret is never returned");
      const name = `h-${c.provider}`;
      const q = "?source=ci";
      const now = () => w.clock.now;

      // Valid, signed with the current secret.
      const first = c.signed(c.secrets[0], "d-1", now());
      const ok = await w.deliver(name, first, q);
      assert.equal(ok.status, 202, JSON.stringify(ok.body));
      assert.match(ok.body.run_id, /^[0-9a-f-]{36}$/);
      const [run] = await w.runs();
      assert.equal(run.id, ok.body.run_id);
      assert.equal(run.parameters.repo, c.provider === "stripe" ? "cus_1" : "acme/app");

      // The next secret of a rotation is accepted as well.
      const rotated = await w.deliver(name, c.signed(c.secrets[1], "d-2", now()), q);
      assert.equal(rotated.status, 202, JSON.stringify(rotated.body));
      assert.notEqual(rotated.body.run_id, ok.body.run_id);

      const deliveriesBefore = (await db.sql`select 1 from edgeflow.webhook_deliveries`).length;
      // Forged: signed with a secret the hook does not have.
      const wrong = c.provider === "standard"
        ? "whsec_bm90LXRoZS1zZWNyZXQtYXQtYWxsIQ=="
        : "not-the-secret";
      const forged = await w.deliver(name, c.signed(wrong, "d-3", now()), q);
      assert.equal(forged.status, 401);
      assert.equal(forged.body.code, "invalid_signature");

      // Stale: signed six minutes ago (schemes without a timestamp rely on the delivery id).
      if (c.timestamped) {
        const old = new Date(now().getTime() - 6 * 60_000);
        const stale = await w.deliver(name, c.signed(c.secrets[0], "d-4", old), q);
        assert.equal(stale.status, 401);
        assert.match(stale.body.detail, /5 minutes/);
      }

      // Body swapped under a valid signature of another body.
      const swappedBody = c.body("d-5").replace("acme/app", "evil/app").replace(
        "cus_1",
        "cus_evil",
      );
      const swapped = { ...c.signed(c.secrets[0], "d-5", now()), body: swappedBody };
      const sw = await w.deliver(name, swapped, q);
      if (c.bodySigned) {
        assert.equal(sw.status, 401, JSON.stringify(sw.body));
      } else {
        // A shared token authenticates the sender, not the bytes: the README says so.
        assert.equal(sw.status, 202);
      }
      const refused = 1 + (c.timestamped ? 1 : 0) + (c.bodySigned ? 1 : 0);
      const after = await w.call("GET", `/deploy/webhooks/${name}`);
      assert.equal(after.body.rejected, refused, "refusals are counted");
      assert.equal(
        (await db.sql`select 1 from edgeflow.webhook_deliveries`).length,
        deliveriesBefore + (c.bodySigned ? 0 : 1),
        "a refused request stores nothing but the counter",
      );

      // Replayed: the very same request again returns the same run, and starts nothing.
      const runsBefore = (await w.runs()).length;
      const replay = await w.deliver(name, first, q);
      assert.equal(replay.status, 200);
      assert.equal(replay.body.run_id, ok.body.run_id);
      assert.equal(replay.body.duplicate, true);
      assert.equal((await w.runs()).length, runsBefore);
      // Replayed under another delivery id: where the scheme does not sign the id header
      // (GitHub, hmac, token) the signed bytes decide, so it is still the first delivery.
      const idHeader =
        ({ github: "x-github-delivery", hmac: "x-delivery", token: "x-delivery" } as Record<
          string,
          string
        >)[c.provider];
      if (idHeader) {
        const renamed = { ...first, headers: { ...first.headers, [idHeader]: "d-1-replayed" } };
        const sneaky = await w.deliver(name, renamed, q);
        assert.equal(sneaky.status, 200, JSON.stringify(sneaky.body));
        assert.equal(sneaky.body.run_id, ok.body.run_id);
        assert.equal((await w.runs()).length, runsBefore);
      }

      // 50 concurrent redeliveries of one new delivery: one run, every answer names it.
      const burst = c.signed(c.secrets[0], "d-burst", now());
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => w.deliver(name, burst, q)),
      );
      const created = answers.filter((a) => a.status === 202);
      assert.equal(created.length, 1, JSON.stringify(answers.map((a) => a.status)));
      assert.ok(answers.every((a) => a.status === 202 || a.status === 200));
      assert.equal(new Set(answers.map((a) => a.body.run_id)).size, 1);
      assert.equal((await w.runs()).length, runsBefore + 1);
    },
  );
}
