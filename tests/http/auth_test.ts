import assert from "node:assert/strict";
import { generateKey, hashKey, scopeAllows, timingSafeEqual } from "../../shared/http/api_keys.ts";
import {
  type AuthOptions,
  createAuth,
  getPrincipal,
  type KeyRecord,
} from "../../shared/http/auth.ts";
import { captureLog, testApp } from "./helpers.ts";

const ADMIN = "bootstrap-admin-secret";

/** A key store over a map, counting lookups. */
function memoryStore(records: Record<string, KeyRecord>) {
  const byHash = new Map<string, KeyRecord>();
  const ready = Promise.all(
    Object.entries(records).map(async ([key, record]) => byHash.set(await hashKey(key), record)),
  );
  const store = {
    lookups: 0,
    async findByHash(hash: string) {
      await ready;
      store.lookups++;
      return byHash.get(hash) ?? null;
    },
  };
  return store;
}

const keys = memoryStore({
  ef_register: { id: "k1", name: "ci", scopes: ["register"] },
  ef_reader: { id: "k2", name: "dash", scopes: ["read"] },
  ef_revoked: { id: "k3", name: "old", scopes: ["admin"], revoked: true },
  ef_expired: { id: "k4", name: "tmp", scopes: ["admin"], expires_at: "2020-01-01T00:00:00Z" },
  ef_worker: { id: "k5", name: "w", scopes: ["worker", "bogus-scope"] },
});

/** An app with a register route (POST + GET) and a worker route. */
function app(options: Partial<AuthOptions> = {}) {
  const { requireScope } = createAuth({ keys, adminKey: ADMIN, ...options });
  return testApp((app) => {
    app.post("/register", requireScope("register"), (c) => c.json(c.get("principal"), 201));
    app.get("/register/flows", requireScope("register"), (c) => c.json(getPrincipal(c)));
    app.post("/heartbeat", requireScope("worker"), (c) => c.json({ ok: true }));
  });
}

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

Deno.test("a missing key is 401 with a Bearer challenge", async () => {
  const res = await app().request("/register", { method: "POST" });
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="edgeflow"');
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.equal((await res.json()).code, "unauthorized");
});

Deno.test("unknown, revoked and expired keys are 401 invalid_token", async () => {
  for (const key of ["ef_nope", "ef_revoked", "ef_expired", "not-even-ours"]) {
    const res = await app().request("/register", { method: "POST", headers: bearer(key) });
    assert.equal(res.status, 401, key);
    assert.match(res.headers.get("www-authenticate")!, /error="invalid_token"/);
  }
});

Deno.test("a token without the ef_ prefix is refused without a database lookup", async () => {
  const before = keys.lookups;
  await app().request("/register", { method: "POST", headers: bearer("garbage") });
  assert.equal(keys.lookups, before);
});

Deno.test("a key without the route's scope is 403", async () => {
  const res = await app().request("/heartbeat", { method: "POST", headers: bearer("ef_register") });
  assert.equal(res.status, 403);
  assert.equal((await res.json()).code, "forbidden");
  assert.match(res.headers.get("www-authenticate")!, /insufficient_scope/);
});

Deno.test("a key with the route's scope passes and is the principal", async () => {
  const res = await app().request("/register", { method: "POST", headers: bearer("ef_register") });
  assert.equal(res.status, 201);
  assert.deepEqual(await res.json(), { id: "k1", name: "ci", scopes: ["register"] });
});

Deno.test("unknown scopes stored with a key are ignored", async () => {
  const res = await app().request("/heartbeat", { method: "POST", headers: bearer("ef_worker") });
  assert.equal(res.status, 200);
});

Deno.test("the read scope allows GET routes only", async () => {
  const get = await app().request("/register/flows", { headers: bearer("ef_reader") });
  assert.equal(get.status, 200);
  const post = await app().request("/register", { method: "POST", headers: bearer("ef_reader") });
  assert.equal(post.status, 403);
});

Deno.test("the bootstrap admin key works on every route, from a value or from the request", async () => {
  for (const adminKey of [ADMIN, () => ADMIN]) {
    const a = app({ adminKey });
    for (
      const [path, method] of [["/register", "POST"], ["/heartbeat", "POST"], [
        "/register/flows",
        "GET",
      ]]
    ) {
      const res = await a.request(path, { method, headers: bearer(ADMIN) });
      assert.ok(res.status < 300, `${method} ${path}: ${res.status}`);
    }
  }
  const res = await app().request("/register", {
    method: "POST",
    headers: { "X-Edgeflow-Key": ADMIN },
  });
  assert.equal(res.status, 201);
  assert.equal((await res.json()).name, "EDGEFLOW_ADMIN_KEY");
});

Deno.test("near misses of the admin key are refused", async () => {
  for (const key of [ADMIN + "x", ADMIN.slice(0, -1), ADMIN.toUpperCase(), ""]) {
    const res = await app().request("/register", { method: "POST", headers: bearer(key) });
    assert.equal(res.status, 401, JSON.stringify(key));
  }
});

Deno.test("without an admin key configured, no key string is the admin key", async () => {
  const res = await app({ adminKey: undefined }).request("/register", {
    method: "POST",
    headers: bearer(""),
  });
  assert.equal(res.status, 401);
});

Deno.test("the scheme is case-insensitive and other schemes are refused", async () => {
  const ok = await app().request("/register", {
    method: "POST",
    headers: { Authorization: `bearer ${ADMIN}` },
  });
  assert.equal(ok.status, 201);
  const basic = await app().request("/register", {
    method: "POST",
    headers: { Authorization: `Basic ${ADMIN}` },
  });
  assert.equal(basic.status, 401);
});

Deno.test("authDisabled admits everything, marks responses and says so loudly", async () => {
  const { log, lines } = captureLog();
  const res = await app({ authDisabled: true, log }).request("/heartbeat", { method: "POST" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-edgeflow-auth"), "disabled");
  assert.equal(lines.length, 1);
  assert.equal(lines[0].level, "warn");
  assert.match(lines[0].message, /AUTHENTICATION IS DISABLED/);
});

Deno.test("keys never appear in logs, even when the key store fails", async () => {
  const { log, lines } = captureLog();
  const failing = { findByHash: () => Promise.reject(new Error("boom")) };
  const { requireScope } = createAuth({ keys: failing, adminKey: ADMIN, log });
  const a = testApp((app) => app.post("/x", requireScope("admin"), (c) => c.text("ok")), log);
  const res = await a.request("/x", { method: "POST", headers: bearer("ef_secret_value") });
  assert.equal(res.status, 500);
  assert.ok(lines.length > 0);
  assert.doesNotMatch(JSON.stringify(lines), /ef_secret_value|bootstrap-admin-secret/);
});

Deno.test("generateKey makes ef_ keys whose hash is the SHA-256 of the key", async () => {
  const a = await generateKey();
  const b = await generateKey();
  assert.match(a.key, /^ef_[a-z2-7]{52}$/);
  assert.notEqual(a.key, b.key);
  assert.equal(a.hash, await hashKey(a.key));
  assert.match(a.hash, /^[0-9a-f]{64}$/);
  assert.equal(a.prefix, a.key.slice(0, 11));
  // Known vector: sha256("abc").
  assert.equal(
    await hashKey("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("timingSafeEqual compares every character and the length", () => {
  assert.equal(timingSafeEqual("abc", "abc"), true);
  assert.equal(timingSafeEqual("abc", "abd"), false);
  assert.equal(timingSafeEqual("xbc", "abc"), false);
  assert.equal(timingSafeEqual("abc", "abcd"), false);
  assert.equal(timingSafeEqual("", ""), true);
  assert.equal(timingSafeEqual("a\u0000", "a"), false);
});

Deno.test("scopeAllows: admin implies all, read is GET-only, others match exactly", () => {
  assert.equal(scopeAllows(["admin"], "worker", "POST"), true);
  assert.equal(scopeAllows(["read"], "deploy", "GET"), true);
  assert.equal(scopeAllows(["read"], "deploy", "HEAD"), true);
  assert.equal(scopeAllows(["read"], "read", "POST"), false);
  assert.equal(scopeAllows(["deploy"], "deploy", "POST"), true);
  assert.equal(scopeAllows(["deploy"], "trigger", "POST"), false);
  assert.equal(scopeAllows(["deploy"], "admin", "POST"), false);
});
