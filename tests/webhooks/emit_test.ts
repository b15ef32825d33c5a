/**
 * Webhooks that emit events (issue 16): a signed GitHub delivery records an
 * event (key and payload rendered from the body), which resumes a run
 * waiting for it and starts a deployment whose trigger matches; the same
 * delivery again does nothing new. `emit` is validated when the hook is
 * saved. On PGlite and Postgres.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { createHook, hookWorld } from "./helpers.ts";
import * as sign from "./signers.ts";
import { deploy } from "../limits/helpers.ts";
import { register, runStep, start, stepStatuses } from "../events/helpers.ts";

const SECRET = "gh-emit-secret";
const push = (after: string, repo = "acme/app") =>
  JSON.stringify({ ref: "refs/heads/main", after, repository: { full_name: repo } });

/** A flow that waits for a push of its repo, and a deployment started by pushes. */
async function world(db: Parameters<Parameters<typeof dbTest>[1]>[0]) {
  const w = await hookWorld(db);
  await register(w.call, {
    name: "release",
    steps: [
      { slug: "prepare" },
      {
        slug: "pushed",
        depends_on: ["prepare"],
        wait: { event: "github.push", key: "{{ run.repo }}", timeout: 3600 },
      },
      { slug: "publish", depends_on: ["pushed"] },
    ],
  });
  await register(w.call, {
    name: "build",
    parameters: { type: "object", properties: { repo: { type: "string" } } },
    steps: [{ slug: "compile" }],
  });
  await deploy(w.call, {
    name: "build-on-push",
    flow: "build",
    triggers: [{ event: "github.push", parameters: { repo: "{{ event.key }}" } }],
  });
  return w;
}

dbTest(
  "a signed GitHub delivery emits an event: a waiting run resumes, a trigger starts a run, a repeat does nothing",
  async (db) => {
    const { sql } = db;
    const w = await world(db);
    const hook = await createHook(w, {
      name: "gh-events",
      provider: "github",
      secrets: [SECRET],
      emit: { name: "github.push", key: "{{ body.repository.full_name }}" },
      start_run: false,
    });
    assert.deepEqual(hook.emit, {
      name: "github.push",
      key: "{{ body.repository.full_name }}",
      payload: "{{ body }}",
    });
    assert.equal(hook.start_run, false);

    const run = await start(w.call, "release", { repo: "acme/app" });
    await runStep(sql, run, "prepare");
    assert.equal((await stepStatuses(w.call, run)).pushed, "WAITING");

    const body = push("abc123");
    const signed = sign.github(SECRET, body, "delivery-1");
    const res = await w.deliver("gh-events", signed);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.runs_resumed, 1);
    assert.equal(res.body.runs_started, 1);
    assert.equal(
      res.body.run_id,
      undefined,
      "start_run false: the hook's own deployment runs nothing",
    );

    const events = (await w.call("GET", "/trigger/events?name=github.push")).body.events;
    assert.equal(events.length, 1);
    assert.equal(events[0].id, res.body.event_id);
    assert.equal(events[0].key, "acme/app");
    assert.deepEqual(events[0].payload, JSON.parse(body));

    const steps = await stepStatuses(w.call, run);
    assert.equal(steps.pushed, "COMPLETED");
    assert.equal(steps.publish, "QUEUED");
    const [out] = await sql<{ output: { after: string } }>`
    select output from edgeflow.step_states where run_id = ${run}::uuid and slug = 'pushed'`;
    assert.equal(out.output.after, "abc123");
    const started = await sql<{ parameters: Record<string, unknown> }>`
    select r.parameters from edgeflow.runs r join edgeflow.deployments d on d.id = r.deployment_id
     where d.name = 'build-on-push'`;
    assert.deepEqual(started.map((r) => r.parameters), [{ repo: "acme/app" }]);
    const log = (await w.call("GET", "/deploy/webhooks/gh-events/deliveries")).body.deliveries;
    assert.equal(log[0].outcome, "emitted");
    assert.equal(log[0].event_id, res.body.event_id);

    // GitHub sends it again (same signed body, same delivery id), and once more under a new id.
    for (const again of [signed, sign.github(SECRET, body, "delivery-1-replayed")]) {
      const dup = await w.deliver("gh-events", again);
      assert.equal(dup.status, 200, JSON.stringify(dup.body));
      assert.equal(dup.body.duplicate, true);
      assert.equal(dup.body.event_id, res.body.event_id);
    }
    const [n] = await sql<{ events: number; runs: number }>`
    select (select count(*)::int from edgeflow.inbound_events) as events,
           (select count(*)::int from edgeflow.runs) as runs`;
    assert.deepEqual(
      n,
      { events: 1, runs: 2 },
      "the waiting run and one triggered run, nothing new",
    );
  },
);

dbTest("a hook that emits and starts a run does both, once", async (db) => {
  const { sql } = db;
  const w = await world(db);
  await createHook(w, {
    name: "gh-both",
    provider: "github",
    secrets: [SECRET],
    parameters: { repo: "{{ body.repository.full_name }}", sha: "{{ body.after }}" },
    emit: {
      name: "github.push",
      key: "{{ body.repository.full_name }}",
      payload: { sha: "{{ body.after }}" },
    },
  });
  const signed = sign.github(SECRET, push("def456", "acme/web"), "d-2");
  const res = await w.deliver("gh-both", signed);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.ok(res.body.run_id, "the hook's own run started");
  assert.equal(res.body.runs_started, 1, "and the event's trigger started one");
  const [event] = await sql<{ key: string; payload: unknown }>`
    select key, payload from edgeflow.inbound_events`;
  assert.deepEqual(event, { key: "acme/web", payload: { sha: "def456" } });
  const again = await w.deliver("gh-both", signed);
  assert.equal(again.body.duplicate, true);
  const [{ runs }] = await sql<{ runs: number }>`select count(*)::int as runs from edgeflow.runs`;
  assert.equal(runs, 2);
});

dbTest(
  "a delivery whose event key names nothing fails naming emit.key, and records nothing",
  async (db) => {
    const { sql } = db;
    const w = await world(db);
    await createHook(w, {
      name: "gh-keyless",
      provider: "github",
      secrets: [SECRET],
      emit: { name: "github.push", key: "{{ body.pull_request.head.repo }}" },
      start_run: false,
    });
    const res = await w.deliver("gh-keyless", sign.github(SECRET, push("x"), "d-3"));
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.errors[0].path, "emit.key");
    const [{ n }] = await sql<
      { n: number }
    >`select count(*)::int as n from edgeflow.inbound_events`;
    assert.equal(n, 0);
  },
);

dbTest(
  "emit is validated when the hook is saved: 4xx naming the field, nothing saved",
  async (db) => {
    const { sql } = db;
    const w = await world(db);
    const bad: [Record<string, unknown>, string][] = [
      [{ emit: { name: "has space", key: "" } }, "emit.name"],
      [{ emit: { name: "github.push", key: "{{ nobody.x }}" } }, "emit.key"],
      [{ emit: { name: "github.push", payload: { a: "{{ body.x" } } }, "emit.payload.a"],
      [{ emit: { name: "github.push", extra: 1 } }, "emit"],
      [{ start_run: false }, "start_run"],
      [{ emit: "github.push" }, "emit"],
    ];
    for (const [fields, path] of bad) {
      const res = await w.call("POST", "/deploy/webhooks", {
        name: "gh-bad",
        deployment: "ci-build",
        provider: "github",
        secrets: [SECRET],
        ...fields,
      });
      assert.ok(res.status >= 400 && res.status < 500, `${JSON.stringify(fields)}: ${res.status}`);
      assert.ok(
        res.body.errors.some((e: { path: string }) => e.path.startsWith(path)),
        `${JSON.stringify(fields)} names ${path}: ${JSON.stringify(res.body.errors)}`,
      );
    }
    const [{ n }] = await sql<{ n: number }>`select count(*)::int as n from edgeflow.webhooks`;
    assert.equal(n, 0);
  },
);
