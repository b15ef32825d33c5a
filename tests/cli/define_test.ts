// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { fixture, json, serveApp } from "./harness.ts";

dbTest("cli registers flows from JSON, YAML and a TS module; again is unchanged", async (db) => {
  const server = serveApp(db);
  try {
    const first = await server.cli([
      "register",
      fixture("etl.json"),
      fixture("flows.yaml"),
      fixture("flows.ts"),
    ]);
    assert.equal(first.code, 0, first.stderr);
    for (const name of ["etl", "hello", "bye", "ts_ingest", "ts_cleanup", "ts_publish"]) {
      assert.match(first.stdout, new RegExp(`^flow\\s+${name}\\s+created\\s+version 1$`, "m"));
    }
    assert.match(first.stdout, /^KIND\s+NAME\s+RESULT\s+DETAIL$/m, "a table with headers");

    const again = await server.cli(["register", fixture("flows.ts"), "--json"]);
    assert.equal(again.code, 0, again.stderr);
    const rows = json(again);
    assert.deepEqual(rows.map((r: any) => [r.name, r.outcome]), [
      ["ts_ingest", "unchanged"],
      ["ts_cleanup", "unchanged"],
      ["ts_publish", "unchanged"],
    ]);

    const ls = json(await server.cli(["flows", "ls", "--json"]));
    assert.deepEqual(ls.flows.map((f: any) => f.name).sort(), [
      "bye",
      "etl",
      "hello",
      "ts_cleanup",
      "ts_ingest",
      "ts_publish",
    ]);
    const show = await server.cli(["flows", "show", "bye"]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^leave\s+demo\.leave\s+wave\s/m, "steps with their dependencies");
  } finally {
    await server.close();
  }
});

dbTest("cli deploys from YAML, says unchanged on a re-run, pauses and resumes", async (db) => {
  const server = serveApp(db);
  try {
    assert.equal((await server.cli(["register", fixture("etl.json")])).code, 0);
    const deploy = await server.cli(["deploy", fixture("deployments.yaml")]);
    assert.equal(deploy.code, 0, deploy.stderr);
    assert.match(deploy.stdout, /^deployment\s+etl-nightly\s+created\s+flow etl, pool default$/m);
    const again = await server.cli(["deploy", fixture("deployments.yaml")]);
    assert.match(again.stdout, /^deployment\s+etl-nightly\s+unchanged\s/m);

    const paused = await server.cli(["pause", "etl-nightly"]);
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /paused deployment etl-nightly/);
    const shown = json(await server.cli(["deployments", "show", "etl-nightly", "--json"]));
    assert.equal(shown.paused, true);
    assert.deepEqual(shown.parameters, { day: "today" }, "pausing keeps everything else");
    assert.deepEqual(shown.tags, ["nightly"]);
    const refused = await server.cli(["run", "etl-nightly"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: deployment etl-nightly is paused$/m);

    assert.match((await server.cli(["pause", "etl-nightly"])).stdout, /already paused/);
    assert.equal((await server.cli(["resume", "etl-nightly"])).code, 0);
    const ls = await server.cli(["deployments", "ls"]);
    assert.match(ls.stdout, /^etl-nightly\s+etl@latest\s+default\/default\s+no\s/m);
  } finally {
    await server.close();
  }
});

dbTest(
  "cli prints a 422 as error: detail with field paths, and the problem with --json",
  async (db) => {
    const server = serveApp(db);
    const dir = await Deno.makeTempDir();
    try {
      const bad = `${dir}/bad.json`;
      await Deno.writeTextFile(
        bad,
        JSON.stringify({
          name: "bad",
          steps: [{ slug: "a" }, { slug: "b", depends_on: ["nope"] }],
        }),
      );
      const res = await server.cli(["register", bad]);
      assert.equal(res.code, 1);
      assert.equal(res.stdout, "");
      assert.match(res.stderr, /^error: flow bad: .+$/m);
      assert.match(res.stderr, /^ {2}steps\[1\]\.depends_on\[0\]: .+$/m);

      const asJson = await server.cli(["register", bad, "--json"]);
      assert.equal(asJson.code, 1);
      const problem = JSON.parse(asJson.stderr);
      assert.equal(problem.status, 422);
      assert.equal(problem.code, "validation_failed");

      const unknown = await server.cli(["deploy", fixture("deployments.yaml")]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /^ {2}flow: no flow with this name is registered$/m);

      const noKey = await server.cli(["flows", "ls"], { env: { EDGEFLOW_KEY: "" } });
      assert.equal(noKey.code, 1);
      assert.match(noKey.stderr, /pass an API key with --key or set EDGEFLOW_KEY/);
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

dbTest("cli creates keys and the key works", async (db) => {
  const server = serveApp(db);
  try {
    const created = await server.cli([
      "keys",
      "create",
      "--name",
      "reader",
      "--scope",
      "read",
      "--json",
    ]);
    assert.equal(created.code, 0, created.stderr);
    const { key, scopes } = json(created);
    assert.deepEqual(scopes, ["read"]);
    const ls = await server.cli(["flows", "ls", "--key", key]);
    assert.equal(ls.code, 0, ls.stderr);
    const write = await server.cli(["register", fixture("etl.json"), "--key", key]);
    assert.equal(write.code, 1);
    assert.match(write.stderr, /lacks the "register" scope/);
  } finally {
    await server.close();
  }
});
