import assert from "node:assert/strict";
import { dbTest, type TestDatabase } from "../support/db.ts";
import { ADMIN_KEY, sessionCookie, testApp } from "../support/app.ts";
import { driveRun, ETL } from "./support.ts";

/** The app, an ETL deployment with a schedule, one run, and page fetching with a cookie. */
async function setup(db: TestDatabase) {
  const t = testApp(db);
  assert.equal((await t.call("POST", "/register", ETL)).status, 201);
  const dep = await t.call("POST", "/deploy", {
    name: "etl-nightly",
    flow: "etl",
    parameters: { day: "today" },
    schedules: [{ cron: "30 15 * * 1-5", timezone: "Asia/Kolkata" }],
  });
  assert.equal(dep.status, 201, JSON.stringify(dep.body));
  const run = await t.call("POST", "/trigger/etl-nightly", { parameters: { day: "d1" } });
  const cookies = new Map<string, Promise<string>>();
  const cookieFor = (key: string) => {
    if (!cookies.has(key)) cookies.set(key, sessionCookie(t.app, key));
    return cookies.get(key)!;
  };
  const page = async (path: string, init: RequestInit & { key?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.key !== "") headers.set("cookie", await cookieFor(init.key ?? ADMIN_KEY));
    const res = await t.app.request(path, { ...init, headers, redirect: "manual" });
    return { status: res.status, headers: res.headers, html: await res.text() };
  };
  const post = (
    path: string,
    form: Record<string, string>,
    init: { key?: string; origin?: string } = {},
  ) =>
    page(path, {
      method: "POST",
      key: init.key,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: init.origin ?? "http://localhost",
      },
      body: new URLSearchParams(form).toString(),
    });
  return { ...t, runId: run.body.run_id as string, page, post };
}

dbTest(
  "signing in sets an HttpOnly SameSite=Strict cookie; bad keys and no keys are refused",
  async (db) => {
    const { page, post } = await setup(db);
    const anonymous = await page("/ui/runs?status=RUNNING", { key: "" });
    assert.equal(anonymous.status, 303);
    assert.equal(
      anonymous.headers.get("location"),
      "/ui/login?next=%2Fui%2Fruns%3Fstatus%3DRUNNING",
    );
    assert.match((await page("/ui/login", { key: "" })).html, /name="key"/);

    const wrong = await post("/ui/login", { key: "ef_nope", next: "/ui/runs" }, { key: "" });
    assert.equal(wrong.status, 401);
    assert.match(wrong.html, /not valid/);
    const ok = await post("/ui/login", { key: ADMIN_KEY, next: "/ui/flows" }, { key: "" });
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get("location"), "/ui/flows");
    const cookie = ok.headers.get("set-cookie") ?? "";
    assert.match(cookie, /^edgeflow_session=efs_/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const offsite = await post("/ui/login", { key: ADMIN_KEY, next: "//evil.example/" }, {
      key: "",
    });
    assert.equal(offsite.headers.get("location"), "/ui/runs", "no open redirect");
    const out = await post("/ui/logout", {});
    assert.match(out.headers.get("set-cookie") ?? "", /edgeflow_session=;.*Max-Age=0/);
  },
);

dbTest("the run page draws the DAG with step states and lists steps and events", async (db) => {
  const { page, call, runId } = await setup(db);
  const before = await page(`/ui/runs/${runId}`);
  assert.equal(before.status, 200);
  assert.match(before.headers.get("content-security-policy") ?? "", /script-src 'nonce-/);
  assert.match(before.html, /<g class="node s-QUEUED" data-step="extract"/);
  assert.match(before.html, /<g class="node s-PENDING" data-step="report"/);
  assert.equal((before.html.match(/class="edge"/g) ?? []).length, 4);
  assert.match(before.html, new RegExp(`data-events="/trigger/runs/${runId}/events"`));
  assert.match(before.html, /Cancel run/);
  await driveRun(call);
  const after = await page(`/ui/runs/${runId}/live`);
  assert.equal((after.html.match(/class="node s-COMPLETED"/g) ?? []).length, 4);
  assert.match(after.html, /id="run-status" class="badge s-COMPLETED"/);
  assert.match(after.html, /map ×2/);
  assert.match(after.html, /RUNNING → <b>COMPLETED<\/b>/);
  assert.doesNotMatch(after.html, /Cancel run/);
  assert.match(after.html, /&quot;parts&quot;/, "outputs are shown");
});

dbTest("the runs list pages with a cursor and filters; bad filters are a 422 page", async (db) => {
  const { page, call } = await setup(db);
  for (let i = 0; i < 4; i++) await call("POST", "/trigger/etl-nightly", {});
  const first = await page("/ui/runs?limit=2");
  assert.equal((first.html.match(/data-run="/g) ?? []).length, 2);
  const older = /id="older" href="([^"]+)"/.exec(first.html)?.[1].replaceAll("&amp;", "&");
  assert.ok(older, "an Older link");
  const second = await page(older!);
  assert.equal((second.html.match(/data-run="/g) ?? []).length, 2);
  const seen = (html: string) => [...html.matchAll(/data-run="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set([...seen(first.html), ...seen(second.html)]).size, 4);

  assert.equal((await page("/ui/runs?status=COMPLETED")).html.includes("data-run="), false);
  assert.equal(
    seen((await page("/ui/runs?flow=etl&deployment=etl-nightly&status=")).html).length,
    5,
  );
  const bad = await page("/ui/runs?status=SLEEPING");
  assert.equal(bad.status, 422);
  assert.match(bad.html, /status/);
  assert.equal((await page("/ui/runs?cursor=garbage")).status, 422);
  assert.equal((await page("/ui/runs/not-a-run")).status, 404);
  assert.equal((await page(`/ui/runs/${crypto.randomUUID()}`)).status, 404);
  assert.equal((await page("/ui/no-such-page")).status, 404);
});

dbTest("pause and resume a deployment from its page; the schedule shows paused", async (db) => {
  const { page, post, call } = await setup(db);
  const list = await page("/ui/deployments");
  assert.match(list.html, /cron 30 15 \* \* 1-5 \(Asia\/Kolkata\)/);
  assert.match(list.html, /data-action="pause"/);
  const paused = await post("/ui/deployments/etl-nightly/pause", {});
  assert.equal(paused.status, 303);
  const after = await page("/ui/deployments");
  assert.match(after.html, /id="state-etl-nightly" class="badge s-PAUSED"/);
  assert.match(after.html, /<span class="muted">paused<\/span>/);
  assert.equal((await call("POST", "/trigger/etl-nightly", {})).status, 409);
  const dep = await call("GET", "/deploy/deployments/etl-nightly");
  assert.equal(dep.body.schedules[0].next_fire_at, null);
  await post("/ui/deployments/etl-nightly/resume", {});
  assert.equal((await call("POST", "/trigger/etl-nightly", {})).status, 201);
  assert.equal((await post("/ui/deployments/nope/pause", {})).status, 404);
  const forged = await post("/ui/deployments/etl-nightly/pause", {}, {
    origin: "https://evil.example",
  });
  assert.equal(forged.status, 403);
  assert.equal((await call("GET", "/deploy/deployments/etl-nightly")).body.paused, false);
});

dbTest("read-only keys see every page but no buttons, and their POSTs get 403", async (db) => {
  const { page, post, call, runId } = await setup(db);
  const key = (await call("POST", "/deploy/keys", { name: "viewer", scopes: ["read"] })).body.key;
  for (
    const path of [
      "/ui/runs",
      `/ui/runs/${runId}`,
      "/ui/flows",
      "/ui/flows/etl",
      "/ui/deployments",
      "/ui/workers",
      "/ui/concurrency",
    ]
  ) {
    const res = await page(path, { key });
    assert.equal(res.status, 200, path);
    assert.doesNotMatch(res.html, /Cancel run|data-action=|Run now/, path);
  }
  assert.equal((await post("/ui/deployments/etl-nightly/pause", {}, { key })).status, 403);
  assert.equal((await post(`/ui/runs/${runId}/cancel`, {}, { key })).status, 403);
  assert.equal((await page("/ui/deployments/etl-nightly/trigger", { key })).status, 403);
  const triggerOnly =
    (await call("POST", "/deploy/keys", { name: "t", scopes: ["trigger"] })).body.key;
  assert.equal((await page("/ui/runs", { key: triggerOnly })).status, 200);
  assert.equal((await page("/ui/deployments", { key: triggerOnly })).status, 403);
});

dbTest("the trigger form validates against the flow's schema and starts one run", async (db) => {
  const { page, post } = await setup(db);
  const form = await page("/ui/deployments/etl-nightly/trigger");
  assert.match(form.html, /name="p\.day" value="today" required/);
  assert.match(form.html, /name="p\.rows"[^>]*type="number" step="1"/);
  const bad = await post("/ui/deployments/etl-nightly/trigger", { "p.day": "d", "p.rows": "-3" });
  assert.equal(bad.status, 422);
  assert.match(bad.html, /parameters\.rows: /);
  const idem = crypto.randomUUID();
  const ok = await post("/ui/deployments/etl-nightly/trigger", {
    "p.day": "d2",
    "p.rows": "5",
    idempotency_key: idem,
  });
  assert.equal(ok.status, 303);
  const location = ok.headers.get("location")!;
  assert.match(location, /^\/ui\/runs\/[0-9a-f-]{36}$/);
  const again = await post("/ui/deployments/etl-nightly/trigger", {
    "p.day": "d2",
    "p.rows": "5",
    idempotency_key: idem,
  });
  assert.equal(again.headers.get("location"), location, "a double submit starts one run");
  assert.match((await page(location)).html, /&quot;rows&quot;:5/);

  const adhoc = await post("/ui/flows/etl/trigger", { "p.rows": "1" });
  assert.equal(adhoc.status, 422);
  assert.match(adhoc.html, /parameters\.day: is required/);
  assert.equal((await post("/ui/flows/etl/trigger", { "p.day": "x" })).status, 303);
  assert.equal((await page("/ui/flows/nope/trigger")).status, 404);
});

dbTest(
  "flows, workers and concurrency pages; the dashboard also lives under /trigger/ui",
  async (db) => {
    const { page, call } = await setup(db);
    await driveRun(call, 0, "worker-7");
    const flow = await page("/ui/flows/etl");
    assert.equal((flow.html.match(/class="node s-STEP"/g) ?? []).length, 4);
    assert.match(flow.html, /map over split/);
    assert.equal((await page("/ui/flows/etl?version=9")).status, 404);
    assert.match((await page("/ui/flows")).html, /href="\/ui\/flows\/etl"/);
    const workers = await page("/ui/workers");
    assert.match(workers.html, /worker-7/);
    assert.match(workers.html, /s-ONLINE/);
    assert.match((await page("/ui/concurrency")).html, /No concurrency limits|Slots in use/);
    const supabase = await page("/trigger/ui/runs");
    assert.equal(supabase.status, 200);
    assert.match(supabase.html, /href="\/trigger\/ui\/runs\/[0-9a-f-]{36}"/);
    assert.equal((await page("/ui/")).headers.get("location"), "/ui/runs");
  },
);
