/**
 * The wire formats, checked piece by piece (the end-to-end tests run them
 * against real Celery and podman): docker arguments, the runner's result
 * line, Celery envelopes, Redis URLs, and the RESP client on the real Redis.
 */
import assert from "node:assert/strict";
import { dockerRunArgs, pullFlag } from "../../shared/executors/docker.ts";
import { MAX_LINE_CHARS, superviseChild } from "../../shared/executors/child.ts";
import { entrypointOf, RESULT_MARKER, resultOf } from "../../shared/executors/runner_io.ts";
import { revokeBroadcast, taskEnvelope } from "../../shared/celery/message.ts";
import { parseRedisUrl, RedisConnection, RespError } from "../../shared/celery/resp.ts";
import { denoConnect } from "../../shared/runtime/tcp.ts";
import type { TaskContext } from "../../shared/worker/context.ts";

const ctx = {
  taskId: "t-1",
  runId: "r-1",
  flow: "f",
  step: "main",
  attempt: 2,
  handler: "flows/a.py:go",
  input: { run: { x: 1 }, deps: {}, args: null },
} as unknown as TaskContext;

Deno.test("docker run arguments: pull policy, volumes, network, env names only, command", () => {
  const args = dockerRunArgs(ctx, "img:1", "flows/a.py:go", {
    pull_policy: "IfNotPresent",
    volumes: ["/a:/b:ro"],
    network: "net",
    env: { SECRET: "s3cret", N: 3 },
  });
  assert.deepEqual(args.slice(0, 5), ["run", "--rm", "-i", "--name", "edgeflow-t-1-2"]);
  assert.ok(args.includes("--pull=missing"));
  assert.deepEqual(args.slice(args.indexOf("-v"), args.indexOf("-v") + 2), ["-v", "/a:/b:ro"]);
  assert.deepEqual(args.slice(args.indexOf("--network"), args.indexOf("--network") + 2), [
    "--network",
    "net",
  ]);
  assert.ok(
    args.includes("SECRET") && !args.some((a) => a.includes("s3cret")),
    "values stay off argv",
  );
  assert.deepEqual(args.slice(-5), ["img:1", "python", "-m", "edgeflow.run", "flows/a.py:go"]);
  const custom = dockerRunArgs(ctx, "img:1", "", { command: "sh -c true" });
  assert.deepEqual(custom.slice(-3), ["sh", "-c", "true"]);
  assert.equal(pullFlag("NEVER"), "never");
  assert.equal(pullFlag("Always"), "always");
  assert.throws(() => pullFlag("sometimes"), /unknown pull policy sometimes/);
});

Deno.test("the entrypoint is the handler's when it names one, else the flow's", () => {
  assert.equal(entrypointOf("flows/a.py:go", "flows/b.py:main"), "flows/a.py:go");
  assert.equal(entrypointOf("etl.extract", "flows/b.py:main"), "flows/b.py:main");
  assert.equal(entrypointOf("etl.extract", null), null);
});

Deno.test("a child's output: the marker line wins, else the last line as JSON or text", () => {
  assert.deepEqual(resultOf(["hi", `${RESULT_MARKER} {"a":1}`, "bye"]), { a: 1 });
  assert.deepEqual(resultOf(["log", "[1,2]", ""]), [1, 2]);
  assert.equal(resultOf(["done: 3 rows"]), "done: 3 rows");
  assert.equal(resultOf([]), null);
});

Deno.test("a chatty child: every line is logged, only the result's candidates are kept", async () => {
  // A real process would do; a stream is the same bytes without the seconds.
  const text = (s: string) => ReadableStream.from([new TextEncoder().encode(s)]);
  const lines = Array.from({ length: 50_000 }, (_, i) => `line ${i}`);
  const out = [...lines.slice(0, 100), `${RESULT_MARKER} {"n":1}`, ...lines.slice(100)];
  const logged: string[] = [];
  const outcome = await superviseChild(
    {
      stdout: text(out.join("\n") + "\n" + "x".repeat(MAX_LINE_CHARS * 2 + 5)),
      stderr: text("oops\n"),
      status: Promise.resolve(0),
      kill() {},
    },
    { out: (l) => logged.push(l), err: (l) => logged.push(`! ${l}`) },
    new AbortController().signal,
    () => {},
  );
  assert.equal(logged.length, out.length + 3 + 1);
  // The unterminated 128 KiB line went out in pieces of at most 64 KiB.
  assert.deepEqual(
    logged.filter((l) => l.startsWith("x")).map((l) => l.length),
    [MAX_LINE_CHARS, MAX_LINE_CHARS, 5],
  );
  assert.deepEqual(outcome.stdout, [`${RESULT_MARKER} {"n":1}`, "x".repeat(5)]);
  assert.deepEqual(resultOf(outcome.stdout), { n: 1 });
  assert.deepEqual(outcome.stderrTail, ["oops"]);
});

Deno.test("a Celery envelope carries protocol 2 headers and base64 [args, kwargs, embed]", () => {
  const env = JSON.parse(taskEnvelope({
    task: "data.download_historical",
    id: "c-1",
    kwargs: { ticker: "AAPL" },
    queue: "celery",
    origin: "edgeflow@w",
  }));
  assert.equal(env.headers.task, "data.download_historical");
  assert.equal(env.headers.id, "c-1");
  assert.equal(env.headers.root_id, "c-1");
  assert.equal(env.properties.body_encoding, "base64");
  assert.equal(env.properties.correlation_id, "c-1");
  assert.deepEqual(env.properties.delivery_info, { exchange: "", routing_key: "celery" });
  assert.deepEqual(JSON.parse(atob(env.body)), [[], { ticker: "AAPL" }, {
    callbacks: null,
    errbacks: null,
    chain: null,
    chord: null,
  }]);
  const revoke = revokeBroadcast(["c-1"], 7, { terminate: true });
  assert.equal(revoke.channel, "/7.celery.pidbox");
  const body = JSON.parse(atob(JSON.parse(revoke.payload).body));
  assert.deepEqual(body.arguments, { task_id: ["c-1"], terminate: true, signal: "SIGTERM" });
});

Deno.test("redis URLs: host, port, db and password; anything else is refused", () => {
  assert.deepEqual(parseRedisUrl("redis://:p%40ss@10.0.0.1:6380/4"), {
    host: "10.0.0.1",
    port: 6380,
    db: 4,
    password: "p@ss",
  });
  assert.deepEqual(parseRedisUrl("redis://127.0.0.1"), {
    host: "127.0.0.1",
    port: 6379,
    db: 0,
    password: null,
  });
  assert.throws(() => parseRedisUrl("http://x"), TypeError);
  assert.throws(() => parseRedisUrl("redis://x/abc"), /not a number/);
});

Deno.test("the RESP client on the real Redis: pipelined replies in order, errors, pub/sub", async () => {
  const target = parseRedisUrl("redis://127.0.0.1:6379/15");
  const c = await RedisConnection.open(denoConnect, target);
  const sub = await RedisConnection.open(denoConnect, target);
  try {
    const key = `edgeflow-resp-${crypto.randomUUID()}`;
    const big = "é".repeat(100_000); // multi-byte and larger than one read
    const [set, got, missing, n] = await Promise.all([
      c.command("SET", key, big),
      c.command("GET", key),
      c.command("GET", `${key}-none`),
      c.command("DEL", key),
    ]);
    assert.deepEqual([set, got, missing, n], ["OK", big, null, 1]);
    await assert.rejects(c.command("NOSUCHCOMMAND"), RespError);
    const heard = new Promise<string>((resolve) => (sub.onMessage = (_ch, data) => resolve(data)));
    assert.deepEqual(await sub.command("SUBSCRIBE", key), ["subscribe", key, 1]);
    assert.equal(await c.command("PUBLISH", key, "hello"), 1);
    assert.equal(await heard, "hello");
  } finally {
    c.close();
    sub.close();
  }
});
