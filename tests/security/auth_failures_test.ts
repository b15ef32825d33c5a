/** Failed authentication is rate-limited per client (issue 10 item 15). */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, testApp } from "../support/app.ts";

const from = (ip: string) => ({ "cf-connecting-ip": ip });

dbTest("20 failed keys a minute from one client, then 429 with Retry-After", async (db) => {
  const { call } = testApp(db);
  const wrong = (ip: string, key = "ef_" + "x".repeat(52)) =>
    call("GET", "/deploy/pools", undefined, { key, headers: from(ip) });
  for (let i = 0; i < 20; i++) {
    const res = await wrong("203.0.113.7", i % 2 ? "not-even-ours" : undefined);
    assert.equal(res.status, 401, `attempt ${i + 1}`);
  }
  const limited = await wrong("203.0.113.7");
  assert.equal(limited.status, 429);
  assert.equal(limited.body.code, "rate_limited");
  assert.match(limited.body.detail, /failed authentication/);
  const retry = Number(limited.headers.get("retry-after"));
  assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);

  // Other clients are not affected, and a valid key is never counted or refused.
  assert.equal((await wrong("198.51.100.1")).status, 401);
  const ok = await call("GET", "/deploy/pools", undefined, { headers: from("203.0.113.7") });
  assert.equal(ok.status, 200);
  // A missing key is not a guess: it stays 401.
  const none = await call("GET", "/deploy/pools", undefined, {
    key: null,
    headers: from("9.9.9.9"),
  });
  assert.equal(none.status, 401);
});

dbTest("the client is told apart by X-Forwarded-For's first hop when no CF header", async (db) => {
  const { call } = testApp(db);
  const wrong = (xff: string) =>
    call("GET", "/deploy/pools", undefined, {
      key: "ef_wrong",
      headers: { "x-forwarded-for": xff },
    });
  for (let i = 0; i < 20; i++) assert.equal((await wrong("192.0.2.5, 10.0.0.1")).status, 401);
  assert.equal((await wrong("192.0.2.5, 10.0.0.2")).status, 429);
  assert.equal((await wrong("192.0.2.6, 10.0.0.1")).status, 401);
});

dbTest("the dashboard sign-in form counts failures too", async (db) => {
  const { app } = testApp(db);
  const signIn = (key: string) =>
    app.request("/ui/login", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: "http://localhost",
        "cf-connecting-ip": "203.0.113.9",
      },
      body: new URLSearchParams({ key, next: "/ui/runs" }).toString(),
      redirect: "manual",
    });
  for (let i = 0; i < 20; i++) assert.equal((await signIn("guess-" + i)).status, 401);
  const limited = await signIn("guess-21");
  assert.equal(limited.status, 429);
  assert.ok(limited.headers.get("retry-after"));
  assert.equal((await signIn(ADMIN_KEY)).status, 303, "the right key still signs in");
});
