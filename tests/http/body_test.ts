import assert from "node:assert/strict";
import { z } from "zod";
import { MAX_BODY_BYTES, readJson, readJsonAs, readText } from "../../shared/http/body.ts";
import { postJson, testApp } from "./helpers.ts";

/** An app that echoes the parsed body, and the raw text it saw. */
const app = testApp((app) => {
  app.post("/echo", async (c) => {
    const raw = await readText(c);
    const parsed = await readJson(c);
    return c.json({ parsed, raw, rawAgain: await readText(c) });
  });
  app.post("/typed", async (c) => c.json(await readJsonAs(c, z.object({ name: z.string() }))));
  app.post("/hono-json", async (c) => c.json(await c.req.json()));
});

/** A body of `size` bytes streamed in 64 KiB chunks, with no Content-Length. */
function streamOf(size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      const n = Math.min(64 * 1024, size - sent);
      if (n <= 0) return controller.close();
      controller.enqueue(new Uint8Array(n).fill(0x20));
      sent += n;
    },
  });
}

Deno.test("a 2 MiB body with Content-Length is refused with 413", async () => {
  const body = " ".repeat(2 * MAX_BODY_BYTES);
  const res = await app.request("/echo", postJson(body));
  assert.equal(res.status, 413);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.equal((await res.json()).code, "payload_too_large");
});

Deno.test("a 2 MiB streamed body without Content-Length is refused with 413", async () => {
  const req = new Request("http://x/echo", { method: "POST", body: streamOf(2 * MAX_BODY_BYTES) });
  assert.equal(req.headers.get("content-length"), null);
  const res = await app.request(req);
  assert.equal(res.status, 413);
});

Deno.test("a Content-Length that understates the body does not let it through", async () => {
  const req = new Request("http://x/echo", {
    method: "POST",
    headers: { "content-length": "10" },
    body: streamOf(2 * MAX_BODY_BYTES),
  });
  const res = await app.request(req);
  assert.equal(res.status, 413);
});

Deno.test("a body of exactly 1 MiB is accepted", async () => {
  const json = JSON.stringify({ pad: "x".repeat(MAX_BODY_BYTES - 10) });
  assert.equal(new TextEncoder().encode(json).byteLength, MAX_BODY_BYTES);
  const res = await app.request("/echo", postJson(json));
  assert.equal(res.status, 200);
});

Deno.test("malformed JSON is a 400 invalid_json problem", async () => {
  for (const body of ["{", "{'a': 1}", "nope", '{"a":1}}']) {
    const res = await app.request("/echo", postJson(body));
    assert.equal(res.status, 400, body);
    assert.equal((await res.json()).code, "invalid_json");
  }
});

Deno.test("a body that is not UTF-8 is a 400", async () => {
  const res = await app.request("/echo", {
    method: "POST",
    body: new Uint8Array([0x7b, 0xff, 0x7d]),
  });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).code, "invalid_json");
});

Deno.test("JSON nested absurdly deep is a 400, not a stack overflow later", async () => {
  const deep = "[".repeat(10_000) + "]".repeat(10_000);
  const res = await app.request("/echo", postJson(deep));
  assert.equal(res.status, 400);
  assert.match((await res.json()).detail, /nested deeper/);
  // Brackets inside strings do not count.
  const ok = await app.request("/echo", postJson({ s: "[[[[".repeat(100) }));
  assert.equal(ok.status, 200);
});

Deno.test("an empty or blank body reads as {}", async () => {
  for (const init of [{ method: "POST" }, postJson("  \n")]) {
    const res = await app.request("/echo", init);
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).parsed, {});
  }
});

Deno.test("the raw text stays available, byte for byte, after parsing", async () => {
  const raw = '{ "b": 1,  "a": [1, 2] }';
  const res = await app.request("/echo", postJson(raw));
  const body = await res.json();
  assert.equal(body.raw, raw);
  assert.equal(body.rawAgain, raw);
  assert.deepEqual(body.parsed, { b: 1, a: [1, 2] });
});

Deno.test("Hono's own c.req.json() still works after the limit middleware read the body", async () => {
  const res = await app.request("/hono-json", postJson({ a: 1 }));
  assert.deepEqual(await res.json(), { a: 1 });
});

Deno.test("readJsonAs reports schema failures as 422 with paths", async () => {
  const res = await app.request("/typed", postJson({ name: 5 }));
  assert.equal(res.status, 422);
  const body = await res.json();
  assert.equal(body.code, "validation_failed");
  assert.deepEqual(body.errors.map((e: { path: string }) => e.path), ["name"]);
});
