import assert from "node:assert/strict";
import { leadingWords, parseArgs, parseAssignments } from "../../shared/cli/args.ts";
import { CliError } from "../../shared/cli/io.ts";
import { renderTable } from "../../shared/cli/table.ts";
import { fromModule } from "../../shared/cli/definitions.ts";
import { handlersOf } from "../../shared/cli/commands/worker.ts";
import { sameState } from "../../shared/cli/apply.ts";

Deno.test("--param values are JSON when they parse, strings otherwise", () => {
  assert.deepEqual(
    parseAssignments(
      ["n=3", "ok=true", "ids=[1,2]", "day=today", 'o={"a":1}', "e=", "q=a=b"],
      "param",
      "run",
    ),
    { n: 3, ok: true, ids: [1, 2], day: "today", o: { a: 1 }, e: "", q: "a=b" },
  );
  assert.throws(() => parseAssignments(["novalue"], "param", "run"), /expects KEY=VALUE/);
});

Deno.test("flags: values, repeats, booleans, --, and errors that name the command", () => {
  const specs = {
    param: { kind: "list", help: "" },
    status: { kind: "string", help: "" },
    json: { kind: "boolean", help: "" },
  } as const;
  const parsed = parseArgs(
    ["dep", "--param", "a=1", "--param=b=2", "--status", "FAILED", "--json", "--", "--x"],
    specs,
    "run",
  );
  assert.deepEqual(parsed.positionals, ["dep", "--x"]);
  assert.deepEqual(parsed.flags.list("param"), ["a=1", "b=2"]);
  assert.equal(parsed.flags.string("status"), "FAILED");
  assert.equal(parsed.flags.bool("json"), true);

  const usage = (args: string[], message: RegExp) =>
    assert.throws(() => parseArgs(args, specs, "run"), (e: unknown) => {
      assert.ok(e instanceof CliError);
      assert.equal(e.exitCode, 2);
      assert.match(e.message, message);
      assert.deepEqual(e.details, ["see edgeflow run --help"]);
      return true;
    });
  usage(["--stauts", "x"], /unknown flag --stauts/);
  usage(["--status"], /--status needs a value/);
  usage(["--json=yes"], /--json takes no value/);
  usage(["--status", "a", "--status", "b"], /given twice/);
});

Deno.test("command words skip global flags and their values", () => {
  assert.deepEqual(
    leadingWords(["--url", "http://x", "runs", "ls", "--status", "FAILED"]).map((w) => w.word),
    ["runs", "ls"],
  );
  assert.deepEqual(leadingWords(["--key=k", "run", "dep"]).map((w) => w.index), [1, 2]);
});

Deno.test("tables align columns under upper-case headers", () => {
  const rows = [{ a: "x", b: 1 }, { a: "longer", b: null }];
  assert.equal(
    renderTable([{ header: "name", value: (r) => r.a }, { header: "n", value: (r) => r.b }], rows),
    "NAME    N\nx       1\nlonger  -\n",
  );
});

Deno.test("a module's flows: default and named exports, arrays, each object once", () => {
  const a = { name: "a", steps: [] };
  const b = { name: "b", entrypoint: "b.py:run" };
  const found = fromModule(
    { default: [a], a, b, helper: () => 1, config: { name: "x" } },
    "m.ts",
    "flow",
  );
  assert.deepEqual(found, [a, b]);
  assert.throws(
    () => fromModule({ helper: 1 }, "m.ts", "flow"),
    /m\.ts exports no flow definitions/,
  );
});

Deno.test("worker handlers are named after exports, objects nesting with dots", () => {
  const fn = () => 1;
  const names = Object.keys(
    handlersOf({ extract: fn, etl: { split: fn, deep: { x: fn } }, default: { "a.b": fn }, n: 3 }),
  );
  assert.deepEqual(names.sort(), ["a.b", "etl.deep.x", "etl.split", "extract"]);
});

Deno.test("unchanged ignores what every upsert rewrites (timestamps, ids, next fire)", () => {
  const before = {
    name: "d",
    updated_at: "1",
    schedules: [{ id: "s1", cron: "* * * * *", next_fire_at: "a" }],
  };
  const after = {
    updated_at: "2",
    name: "d",
    schedules: [{ id: "s2", cron: "* * * * *", next_fire_at: "b" }],
  };
  assert.equal(sameState(before, after), true);
  assert.equal(sameState(before, { ...after, paused: true }), false);
});
