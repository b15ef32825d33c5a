/**
 * The CLI for someone who does not know it yet: a mistyped command names the closest real one,
 * `schedules preview` finds a deployment's only schedule, a map step shows tasks and retries
 * apart, and every time says its zone.
 */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { serveApp } from "./harness.ts";
import { runCli } from "./harness.ts";
import { renderRun } from "../../shared/cli/run_view.ts";
import { shortTime, zonedTime } from "../../shared/cli/table.ts";
import { closest } from "../../shared/cli/suggest.ts";

const offline = (args: string[]) => runCli(args, {});

Deno.test("an unknown command or subcommand says which, and suggests the closest", async () => {
  const top = await offline(["rns", "ls"]);
  assert.equal(top.code, 2);
  assert.match(top.stderr, /^error: unknown command "rns"; did you mean "runs"\?$/m);
  const sub = await offline(["runs", "lss"]);
  assert.equal(sub.code, 2);
  assert.match(sub.stderr, /^error: unknown command "runs lss"; did you mean "runs ls"\?$/m);
  assert.match(sub.stderr, /^Commands of edgeflow runs:$/m, "and the group's commands");
  const flag = await offline(["runs", "ls", "--stauts", "FAILED"]);
  assert.match(flag.stderr, /^error: unknown flag --stauts; did you mean "--status"\?$/m);
  const far = await offline(["zzzzzz"]);
  assert.match(far.stderr, /^error: unknown command "zzzzzz"$/m, "nothing close: no guess");
  assert.equal(closest("deploymnets", ["deployments", "deploy"]), "deployments");
  assert.equal(closest("dep", ["deployments", "run"]), "deployments");
});

Deno.test("flags without a command are an error, not the overview with exit 0", async () => {
  const none = await offline([]);
  assert.equal(none.code, 0);
  assert.match(none.stdout, /^Usage: edgeflow <command>/m);
  const help = await offline(["--help"]);
  assert.equal(help.code, 0);
  // An unknown flag before the command used to hide the command and print the overview.
  const before = await offline(["--verbose", "runs", "ls"]);
  assert.equal(before.code, 2);
  assert.match(before.stderr, /^error: unknown flag --verbose$/m);
  const bare = await offline(["--url"]);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /^error: --url needs a value \(URL\)$/m);
  const only = await offline(["--url", "http://127.0.0.1:1", "--json"]);
  assert.equal(only.code, 2);
  assert.match(only.stderr, /^error: name a command/m);
  const dash = await offline(["-v"]);
  assert.equal(dash.code, 2);
  assert.match(dash.stderr, /^error: unknown flag -v$/m);
  const helpTypo = await offline(["help", "rnus"]);
  assert.equal(helpTypo.code, 2);
  assert.match(helpTypo.stderr, /^error: unknown command "rnus"; did you mean "runs"\?$/m);
  assert.equal((await offline(["help", "runs"])).code, 0);
});

Deno.test("a map step of 3 tasks that never retried shows 3 tasks and 0 retries", () => {
  const run = {
    id: "r1",
    status: "RUNNING",
    flow: "f",
    version: 1,
    deployment: null,
    steps: [
      { slug: "fan", status: "COMPLETED", attempts: 3, tasks: 3 },
      { slug: "flaky", status: "COMPLETED", attempts: 3, tasks: 1 },
    ],
  };
  const text = renderRun(run, Date.now());
  assert.match(text, /^STEP\s+STATUS\s+TASKS\s+RETRIES\s/m);
  assert.doesNotMatch(text, /ATTEMPTS/);
  assert.match(text, /^fan\s+COMPLETED\s+3\s+0\s/m);
  assert.match(text, /^flaky\s+COMPLETED\s+1\s+2\s/m);
});

Deno.test("times carry their zone: UTC, or the schedule's own", () => {
  assert.equal(shortTime("2026-11-22T14:03:07.123Z"), "2026-11-22 14:03:07 UTC");
  assert.equal(
    zonedTime("2026-11-23T10:00:00Z", "Asia/Kolkata"),
    "2026-11-23 15:30:00 Asia/Kolkata",
  );
  assert.equal(zonedTime("2026-11-23T10:00:00Z", null), "2026-11-23 10:00:00 UTC");
});

dbTest("schedules preview works without an id when the deployment has one schedule", async (db) => {
  const server = serveApp(db);
  try {
    const reg = await fetch(`${server.url}/register`, {
      method: "POST",
      headers: { authorization: "Bearer test-admin-key-0123456789" },
      body: JSON.stringify({ name: "tz", steps: [{ slug: "a" }] }),
    });
    assert.equal(reg.status, 201, await reg.text());
    const deploy = (schedules: unknown[]) =>
      fetch(`${server.url}/deploy`, {
        method: "POST",
        headers: { authorization: "Bearer test-admin-key-0123456789" },
        body: JSON.stringify({ name: "tz-daily", flow: "tz", schedules }),
      }).then((r) => r.json());
    await deploy([{ cron: "30 15 * * *", timezone: "Asia/Kolkata" }]);

    const one = await server.cli(["schedules", "preview", "tz-daily", "--count", "2"]);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^FIRE TIME \(UTC\)\s+LOCAL TIME \(Asia\/Kolkata\)$/m);
    assert.match(one.stdout, /10:00:00\s+\S+T15:30:00\+05:30$/m);
    const shown = await server.cli(["deployments", "show", "tz-daily"]);
    assert.match(shown.stdout, / 15:30:00 Asia\/Kolkata /, "next fire in the schedule's zone");
    assert.match(shown.stdout, /^updated:\s+\S+ \S+ UTC$/m);

    const two = await deploy([{ cron: "0 1 * * *" }, { cron: "0 2 * * *" }]);
    const many = await server.cli(["schedules", "preview", "tz-daily"]);
    assert.equal(many.code, 2);
    assert.match(many.stderr, /^error: deployment tz-daily has 2 schedules: name one$/m);
    assert.match(many.stderr, new RegExp(`schedules preview tz-daily ${two.schedules[0].id}`));
  } finally {
    await server.close();
  }
});
