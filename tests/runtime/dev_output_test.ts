/**
 * What a newcomer sees from `deno task dev`: the server's own lines and
 * nothing from the runtime. Deno 2.9 prints "Deno.serve: request.signal
 * aborts on successful responses (legacy behavior) …" once a handler reads
 * `request.signal`, which the long-polling heartbeat does to see a client that
 * left. deno.json opts into the behaviour that warning points to
 * (`"unstable": ["no-legacy-abort"]`): the signal aborts only when the client
 * goes away, which is all edgeflow asks of it (tests/worker/ covers the client
 * that leaves a long poll).
 */
import assert from "node:assert/strict";
import { freePort } from "../smoke/supabase_support.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Read a stream into `sink` line by line until it ends. */
async function collect(stream: ReadableStream<Uint8Array>, sink: string[]): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const bytes of stream) {
    const parts = (rest + decoder.decode(bytes, { stream: true })).split("\n");
    rest = parts.pop() ?? "";
    sink.push(...parts);
  }
  if (rest) sink.push(rest);
}

Deno.test({
  name: "deno task dev runs its example flow and prints no runtime warning",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "ef-dev-output-" });
    const port = freePort();
    // `deno run` as `deno task dev` runs it, from the project's root so that
    // its deno.json applies.
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-check", "functions/dev.ts"],
      cwd: ROOT,
      env: {
        PORT: String(port),
        EDGEFLOW_DATA_DIR: dir,
        DATABASE_URL: "",
        SUPABASE_DB_URL: "",
        NO_COLOR: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out: string[] = [], err: string[] = [];
    const reading = Promise.all([collect(child.stdout, out), collect(child.stderr, err)]);
    try {
      // The dev server triggers its example run and watches it to the end.
      const deadline = Date.now() + 180_000;
      while (!out.some((l) => l.startsWith("run COMPLETED")) && Date.now() < deadline) {
        if (out.some((l) => /^run (FAILED|CRASHED|CANCELLED)/.test(l))) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(
        out.some((l) => l.startsWith("run COMPLETED")),
        `the example run did not complete:\n${out.join("\n")}\n${err.join("\n")}`,
      );
      // The long-polling worker has read request.signal by now: a second poll
      // at least, so the runtime had its chance to warn.
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(res.status, 200);
      await res.body?.cancel();
    } finally {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await reading;
      await Deno.remove(dir, { recursive: true });
    }
    const runtime = [...out, ...err].filter((l) =>
      /^Deno\.serve:|legacy behavior|^Warning\b|isn't a valid unstable feature/.test(l)
    );
    assert.deepEqual(runtime, [], "the runtime printed warnings");
    assert.ok(
      out.some((l) => l.includes(`edgeflow is running at http://127.0.0.1:${port}`)),
      out.join("\n"),
    );
  },
});
