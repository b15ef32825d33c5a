// deno-lint-ignore-file no-explicit-any
/** `edgeflow runs logs [--follow]` and `edgeflow runs retry [--from]` against a served app. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, json, serveApp } from "./harness.ts";

function api(url: string) {
  return async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
}

dbTest("runs logs prints and follows a run's lines; runs retry re-runs it", async (db) => {
  const server = serveApp(db);
  const call = api(server.url);
  try {
    await call("POST", "/register", {
      name: "two",
      steps: [{ slug: "a", max_attempts: 1 }, { slug: "b", depends_on: ["a"], max_attempts: 1 }],
    });
    const runId = (await call("POST", "/trigger/flows/two", {})).body.run_id;
    const claim = async () =>
      (await call("POST", "/heartbeat", { worker: "w", pool: "default", capacity: 1 })).body
        .tasks[0];
    const a = await claim();
    await call("POST", `/heartbeat/tasks/${a.task}/logs`, {
      lease: a.lease,
      lines: [
        { level: "info", message: "starting", fields: { rows: 2 } },
        { level: "error", message: "it broke" },
      ],
    });
    await call("POST", `/heartbeat/tasks/${a.task}/fail`, {
      lease: a.lease,
      error: { message: "broke", retryable: false },
    });

    const logs = await server.cli(["runs", "logs", runId]);
    assert.equal(logs.code, 0, logs.stderr);
    const printed = logs.stdout.trim().split("\n");
    assert.equal(printed.length, 2);
    assert.match(printed[0], /^\d\d:\d\d:\d\d\.\d{3} INFO {2}a#1 {2}starting \{"rows":2\}$/);
    assert.match(printed[1], /ERROR a#1 {2}it broke$/);
    const errorsOnly = await server.cli(["runs", "logs", runId, "--level", "error", "--json"]);
    assert.deepEqual(
      errorsOnly.stdout.trim().split("\n").map((l) => JSON.parse(l).message),
      ["it broke"],
    );

    const bad = await server.cli(["runs", "retry", runId, "--from", "zzz"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /from_step/);
    const retry = await server.cli(["runs", "retry", runId, "--json"]);
    assert.equal(retry.code, 0, retry.stderr);
    assert.deepEqual(json(retry).steps, ["a", "b"]);

    // --follow prints lines as they come and returns once the run is over.
    let follow: Promise<{ code: number; stdout: string; stderr: string }> | undefined;
    let seenFirst!: () => void;
    const first = new Promise<void>((r) => (seenFirst = r));
    follow = server.cli(["runs", "logs", runId, "--follow", "--step", "b"], {
      onStdout: (t) => t.includes("b says hi") && seenFirst(),
    });
    const a2 = await claim();
    assert.equal(a2.attempt, 2);
    await call("POST", `/heartbeat/tasks/${a2.task}/complete`, { lease: a2.lease, output: 1 });
    const b = await claim();
    await call("POST", `/heartbeat/tasks/${b.task}/logs`, {
      lease: b.lease,
      lines: [{ level: "info", message: "b says hi" }],
    });
    await first;
    await call("POST", `/heartbeat/tasks/${b.task}/logs`, {
      lease: b.lease,
      lines: [{ level: "warn", message: "b is done" }],
    });
    await call("POST", `/heartbeat/tasks/${b.task}/complete`, { lease: b.lease, output: 2 });
    const followed = await follow;
    follow = undefined;
    assert.equal(followed.code, 0, followed.stderr);
    const lines = followed.stdout.trim().split("\n");
    assert.equal(lines.length, 2, followed.stdout);
    assert.match(lines[0], /b#1 {2}b says hi$/);
    assert.match(lines[1], /WARN {2}b#1 {2}b is done$/);
  } finally {
    await server.close();
  }
});
