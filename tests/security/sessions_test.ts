/** Dashboard sessions (issue 10 item 12): the cookie is a session token, not the key. */
import assert from "node:assert/strict";
import { dbTest, type TestDatabase } from "../support/db.ts";
import { ADMIN_KEY, testApp } from "../support/app.ts";

/** An app on a movable clock, with form posts and cookie-carrying page loads. */
function setup(db: TestDatabase) {
  let now = new Date("2026-03-01T08:00:00Z");
  const t = testApp(db, {}, { now: () => now });
  const request = async (path: string, init: RequestInit & { cookie?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.cookie) headers.set("cookie", init.cookie);
    const res = await t.app.request(path, { ...init, headers, redirect: "manual" });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  const form = (path: string, fields: Record<string, string>, cookie?: string) =>
    request(path, {
      method: "POST",
      cookie,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: "http://localhost",
      },
      body: new URLSearchParams(fields).toString(),
    });
  const signIn = async (key: string) => {
    const res = await form("/ui/login", { key, next: "/ui/runs" });
    assert.equal(res.status, 303, res.text);
    const set = res.headers.get("set-cookie") ?? "";
    return { set, cookie: set.split(";")[0] };
  };
  const advance = (seconds: number) => (now = new Date(now.getTime() + seconds * 1000));
  return { ...t, request, form, signIn, advance };
}

dbTest("sign-in sets a session cookie that is not the key and works for pages", async (db) => {
  const { request, signIn, call } = setup(db);
  const { set, cookie } = await signIn(ADMIN_KEY);
  assert.match(set, /^edgeflow_session=efs_[0-9a-f]{64};/);
  assert.match(set, /HttpOnly/);
  assert.match(set, /SameSite=Strict/);
  assert.match(set, /Max-Age=43200/);
  assert.ok(!set.includes(ADMIN_KEY), "the admin key is not in the cookie");

  const key = await call("POST", "/deploy/keys", { name: "dash", scopes: ["read"] });
  const reader = await signIn(key.body.key);
  assert.ok(!reader.set.includes(key.body.key), "a stored key is not in the cookie");
  assert.ok(!reader.set.includes(key.body.key.slice(3, 20)), "nor any part of it");

  assert.equal((await request("/ui/runs", { cookie })).status, 200);
  assert.equal((await request("/ui/runs", { cookie: reader.cookie })).status, 200);
  // The old cookie (the raw key) no longer signs anyone in.
  const old = await request("/ui/runs", { cookie: `edgeflow_key=${ADMIN_KEY}` });
  assert.equal(old.status, 303);
  assert.match(old.headers.get("location") ?? "", /^\/ui\/login/);
  // Only the token's hash is stored.
  const token = cookie.split("=")[1];
  const rows = await db.sql<{ hash: string }>`select hash from edgeflow.ui_sessions`;
  assert.equal(rows.length, 2);
  assert.ok(rows.every((r) => r.hash !== token && /^[0-9a-f]{64}$/.test(r.hash)));
});

dbTest("sign-out ends the session: the replayed cookie gets the sign-in page", async (db) => {
  const { request, form, signIn } = setup(db);
  const { cookie } = await signIn(ADMIN_KEY);
  assert.equal((await request("/ui/flows", { cookie })).status, 200);
  const out = await form("/ui/logout", {}, cookie);
  assert.equal(out.status, 303);
  assert.match(out.headers.get("set-cookie") ?? "", /edgeflow_session=;.*Max-Age=0/);
  const replayed = await request("/ui/flows", { cookie });
  assert.equal(replayed.status, 303);
  assert.equal(replayed.headers.get("location"), "/ui/login?next=%2Fui%2Fflows");
  // Nor may it post actions or read event streams.
  const run = await request(`/trigger/runs/${crypto.randomUUID()}/events`, { cookie });
  assert.equal(run.status, 401);
});

dbTest("a session expires 12 hours after sign-in (fixed, not sliding)", async (db) => {
  const { request, signIn, advance } = setup(db);
  const { cookie } = await signIn(ADMIN_KEY);
  advance(11 * 3600);
  assert.equal((await request("/ui/runs", { cookie })).status, 200, "still valid after 11 h");
  advance(3600); // exactly 12 h after sign-in
  const expired = await request("/ui/runs", { cookie });
  assert.equal(expired.status, 303);
  assert.match(expired.headers.get("location") ?? "", /^\/ui\/login/);
});

dbTest("revoking or expiring the key ends its sessions; rotating the admin key too", async (db) => {
  const { request, signIn, call, advance } = setup(db);
  const revoked = await call("POST", "/deploy/keys", { name: "a", scopes: ["read"] });
  const brief = await call("POST", "/deploy/keys", {
    name: "b",
    scopes: ["read"],
    expires_in: 600,
  });
  const a = await signIn(revoked.body.key);
  const b = await signIn(brief.body.key);
  assert.equal((await request("/ui/runs", { cookie: a.cookie })).status, 200);
  assert.equal((await request("/ui/runs", { cookie: b.cookie })).status, 200);

  assert.equal((await call("DELETE", `/deploy/keys/${revoked.body.id}`)).status, 200);
  assert.equal((await request("/ui/runs", { cookie: a.cookie })).status, 303);
  advance(601);
  assert.equal((await request("/ui/runs", { cookie: b.cookie })).status, 303);

  // A session of the bootstrap key ends when EDGEFLOW_ADMIN_KEY changes.
  const admin = await signIn(ADMIN_KEY);
  const rotated = testApp(db, { adminKey: "another-admin-key-0123456789" });
  const res = await rotated.app.request("/ui/runs", {
    headers: { cookie: admin.cookie },
    redirect: "manual",
  });
  assert.equal(res.status, 303);
});

dbTest("a key header still wins over the cookie, and API routes ignore the cookie", async (db) => {
  const { request, signIn } = setup(db);
  const { cookie } = await signIn(ADMIN_KEY);
  const wrong = await request("/ui/runs", {
    cookie,
    headers: { authorization: "Bearer ef_wrong" },
  });
  assert.equal(wrong.status, 303, "the wrong header is judged, not the cookie");
  assert.equal((await request("/trigger/runs", { cookie })).status, 401);
});
