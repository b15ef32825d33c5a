/**
 * Run by tests/smoke/wrangler_smoke.sh against `wrangler dev` (workerd):
 * the same code as Deno serves, bundled for Cloudflare, on real Postgres.
 */
import assert from "node:assert/strict";
import { createWorker, silentLogger, type TaskContext } from "../../shared/worker/mod.ts";
import { github } from "../webhooks/signers.ts";
import { Webhook } from "standardwebhooks";
import { startReceiver } from "../webhooks/receiver.ts";

const url = Deno.env.get("EDGEFLOW_SMOKE_URL");
const key = Deno.env.get("EDGEFLOW_SMOKE_KEY") ?? "";

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test({
  name: "workerd: register, trigger, an SDK worker completes the run",
  ignore: !url,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    assert.equal((await call("GET", "/health")).status, 200);
    const reg = await call("POST", "/register", {
      name: "smoke",
      steps: [{ slug: "split" }, { slug: "double", depends_on: ["split"], map: "split" }, {
        slug: "sum",
        depends_on: ["double"],
      }],
    });
    assert.ok([200, 201].includes(reg.status), JSON.stringify(reg.body));
    const dep = await call("POST", "/deploy", { name: "smoke", flow: "smoke" });
    assert.ok([200, 201].includes(dep.status), JSON.stringify(dep.body));
    const worker = createWorker({
      url: url!,
      key,
      capacity: 2,
      logger: silentLogger,
      handlers: {
        split: () => [1, 2, 3],
        double: (ctx: TaskContext) => (ctx.input.item as number) * 2,
        sum: (ctx: TaskContext) => (ctx.input.deps.double as number[]).reduce((a, b) => a + b),
      },
    });
    await worker.start();
    try {
      const trig = await call("POST", "/trigger/smoke", {});
      assert.equal(trig.status, 201, JSON.stringify(trig.body));
      const run = await waitFor("the run to finish", async () => {
        const r = await call("GET", `/trigger/runs/${trig.body.run_id}`);
        return ["COMPLETED", "FAILED", "CRASHED"].includes(r.body.status) ? r.body : undefined;
      });
      assert.equal(run.status, "COMPLETED");
      assert.deepEqual(run.output, { sum: 12 });
    } finally {
      await worker.stop({ timeoutMs: 5_000 });
    }
  },
});

Deno.test({
  name: "workerd: /__scheduled runs the tick, which re-queues an expired lease",
  ignore: !url,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await call("POST", "/register", { name: "smoke-lease", steps: [{ slug: "slow", timeout: 1 }] });
    const trig = await call("POST", "/trigger/flows/smoke-lease", {});
    const hb = await call("POST", "/heartbeat", {
      worker: "smoke-crashy",
      pool: "default",
      handlers: ["slow"],
      capacity: 1,
    });
    assert.equal(hb.body.tasks.length, 1);
    await new Promise((r) => setTimeout(r, 1500));
    const fired = await fetch(`${url}/__scheduled?cron=*+*+*+*+*`);
    assert.equal(fired.status, 200);
    await fired.text();
    const run = await waitFor("the sweep to re-queue the task", async () => {
      const r = await call("GET", `/trigger/runs/${trig.body.run_id}`);
      return r.body.steps[0].status !== "RUNNING" || r.body.steps[0].error ? r.body : undefined;
    }, 10_000);
    assert.match(JSON.stringify(run.steps[0].error), /lease expired/);
    const again = await call("POST", "/heartbeat", {
      worker: "smoke-steady",
      pool: "default",
      handlers: ["slow"],
      capacity: 1,
    });
    assert.equal(again.body.tasks[0].attempt, 2);
    const done = await call("POST", `/heartbeat/tasks/${again.body.tasks[0].task}/complete`, {
      lease: again.body.tasks[0].lease,
      output: "ok",
    });
    assert.equal(done.status, 200);
  },
});

Deno.test({
  name: "workerd: /__scheduled creates the run of a cron schedule in Asia/Kolkata, on its minute",
  ignore: !url,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await call("POST", "/register", { name: "smoke-cron", steps: [{ slug: "tick" }] });
    const dep = await call("POST", "/deploy", {
      name: "smoke-cron",
      flow: "smoke-cron",
      schedules: [{ cron: "* * * * *", timezone: "Asia/Kolkata" }],
    });
    assert.ok([200, 201].includes(dep.status), JSON.stringify(dep.body));
    const next = Date.parse(dep.body.schedules[0].next_fire_at);
    const fired = await fetch(`${url}/__scheduled?cron=*+*+*+*+*`);
    assert.equal(fired.status, 200);
    await fired.text();
    const runs = await waitFor("the scheduled run", async () => {
      const r = await call("GET", "/trigger/runs?deployment=smoke-cron");
      return r.body.runs.length ? r.body.runs : undefined;
    }, 10_000);
    // The tick looks 90 s ahead: one or two minutes' runs, each created once, on its minute.
    const times = runs.map((r: { scheduled_time: string }) => Date.parse(r.scheduled_time)).sort();
    assert.equal(times[0], next, "the first is the schedule's next fire time, exactly");
    assert.ok(times.every((t: number) => t % 60_000 === 0), "on the minute");
    assert.equal(new Set(times).size, times.length, "one run per fire time");
    // A repeated tick creates nothing new.
    await (await fetch(`${url}/__scheduled?cron=*+*+*+*+*`)).text();
    const again = await call("GET", "/trigger/runs?deployment=smoke-cron");
    const times2 = again.body.runs.map((r: { scheduled_time: string }) =>
      Date.parse(r.scheduled_time)
    );
    assert.equal(new Set(times2).size, times2.length, "still one run per fire time");
  },
});

Deno.test({
  name:
    "workerd: a task triggered after a long poll's client left goes to a live worker, attempt 1",
  // workerd aborts request.signal only while an answer streams, so long polls
  // stream there (shared/app/long_poll.ts). wrangler dev's proxy keeps reading
  // after its client left, so this case runs against Miniflare alone
  // (wrangler_smoke.sh; EDGEFLOW_SMOKE_PROXIED marks the wrangler dev pass).
  ignore: !url || !!Deno.env.get("EDGEFLOW_SMOKE_PROXIED"),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await call("POST", "/register", {
      name: "smoke-gone",
      steps: [{ slug: "only", handler: "gone.only", max_attempts: 1 }],
    });
    const seen = (await call("GET", "/heartbeat/workers")).body.workers.length;
    const client = new AbortController();
    const poll = fetch(`${url}/heartbeat`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({
        worker: "smoke-gone",
        pool: "default",
        handlers: ["gone.only"],
        capacity: 1,
        wait_seconds: 15,
      }),
      signal: client.signal,
    }).then((r) => r.text()).catch(() => "aborted"); // streamed: the body, not the fetch, is aborted
    // Its first statement ran (the worker is registered): the poll is now waiting.
    await waitFor("the long poll", async () => {
      const r = await call("GET", "/heartbeat/workers");
      return r.body.workers.length > seen ? true : undefined;
    });
    client.abort();
    assert.equal(await poll, "aborted");
    const trig = await call("POST", "/trigger/flows/smoke-gone", {});
    assert.equal(trig.status, 201);
    // Whatever the orphaned poll saw, the task is never leased to it: its next
    // write fails before it claims, or the claim is handed back at once
    // (tests/api/long_poll_stream_test.ts is the deterministic proof).
    const task = await waitFor("the task in a live worker's hands", async () => {
      const hb = await call("POST", "/heartbeat", {
        worker: "smoke-live",
        pool: "default",
        handlers: ["gone.only"],
        capacity: 1,
      });
      return hb.body.tasks[0];
    }, 10_000);
    assert.equal(task.attempt, 1);
    const done = await call("POST", `/heartbeat/tasks/${task.task}/complete`, {
      lease: task.lease,
      output: "ok",
    });
    assert.equal(done.status, 200);
  },
});

Deno.test({
  name: "workerd: the dashboard signs in and renders the runs page and a run page (JSX bundled)",
  ignore: !url,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await call("POST", "/register", {
      name: "smoke-ui",
      steps: [{ slug: "a" }, { slug: "b", depends_on: ["a"] }],
    });
    const trig = await call("POST", "/trigger/flows/smoke-ui", {});
    assert.equal(trig.status, 201, JSON.stringify(trig.body));

    const root = await fetch(`${url}/`, { redirect: "manual" });
    await root.body?.cancel();
    assert.equal(new URL(root.headers.get("location") ?? "", url).pathname, "/ui");

    const form = new URLSearchParams({ key, next: "/ui/runs" });
    const login = await fetch(`${url}/ui/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: url! },
      body: form,
    });
    await login.body?.cancel();
    assert.equal(login.status, 303, "signed in");
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0];
    assert.ok(cookie.includes("="), "a session cookie");

    const page = async (path: string) => {
      const res = await fetch(url + path, { headers: { cookie }, redirect: "manual" });
      return { status: res.status, html: await res.text() };
    };
    const runs = await page("/ui/runs");
    assert.equal(runs.status, 200, runs.html.slice(0, 500));
    assert.match(runs.html, /^<!DOCTYPE html>|<html/i);
    assert.ok(runs.html.includes(trig.body.run_id), "the run is listed");
    const run = await page(`/ui/runs/${trig.body.run_id}`);
    assert.equal(run.status, 200, run.html.slice(0, 500));
    assert.match(run.html, /<svg/, "the DAG is drawn");
    assert.match(run.html, /smoke-ui/);
  },
});

Deno.test({
  name:
    "workerd: a signed GitHub delivery starts one run (raw bytes verified), a forged one is 401",
  ignore: !url,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await call("POST", "/register", {
      name: "smoke-hook",
      parameters: { type: "object", properties: { repo: { type: "string" } }, required: ["repo"] },
      steps: [{ slug: "build" }],
    });
    await call("POST", "/deploy", { name: "smoke-hook", flow: "smoke-hook" });
    const hook = await call("POST", "/deploy/webhooks", {
      name: "smoke-gh",
      deployment: "smoke-hook",
      provider: "github",
      secrets: ["smoke-secret"],
      parameters: { repo: "{{ body.repository.full_name }}" },
    });
    assert.ok([200, 201].includes(hook.status), JSON.stringify(hook.body));
    // Pretty-printed, with non-ASCII text: any re-encoding of the body on the way would break it.
    const body = JSON.stringify({ repository: { full_name: "acme/café" }, note: "  x  " }, null, 2);
    const signed = github("smoke-secret", body, `smoke-${crypto.randomUUID()}`);
    const post = (b: BodyInit, headers = signed.headers) =>
      fetch(`${url}/trigger/hooks/smoke-gh`, { method: "POST", headers, body: b });
    const first = await post(body);
    const accepted = await first.json();
    assert.equal(first.status, 202, JSON.stringify(accepted));
    // The same bytes as a stream (chunked, no Content-Length) verify the same way.
    const chunked = await post(new Blob([body]).stream());
    assert.equal(chunked.status, 200);
    assert.equal((await chunked.json()).run_id, accepted.run_id);
    const forged = await post(body.replace("café", "cafe"));
    assert.equal(forged.status, 401);
    await forged.body?.cancel();
    const run = await call("GET", `/trigger/runs/${accepted.run_id}`);
    assert.deepEqual(run.body.parameters, { repo: "acme/café" });
  },
});

Deno.test({
  name:
    "workerd: a run's end is notified after the response (waitUntil), signed the Standard Webhooks way",
  ignore: !url,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    await using receiver = startReceiver(() => 200);
    await call("POST", "/register", {
      name: "smoke-notify",
      steps: [{ slug: "a", handler: "smoke.notify" }],
    });
    await call("POST", "/deploy/notifications", {
      name: "smoke-notify",
      url: receiver.url,
      secret,
      flows: ["smoke-notify"],
    });
    const run = await call("POST", "/trigger/flows/smoke-notify", {});
    const hb = await call("POST", "/heartbeat", {
      worker: "smoke-n",
      pool: "default",
      handlers: ["smoke.notify"],
      capacity: 1,
    });
    const [t] = hb.body.tasks;
    assert.equal(t.run_id, run.body.run_id);
    const done = await call("POST", `/heartbeat/tasks/${t.task}/complete`, {
      lease: t.lease,
      output: 1,
    });
    assert.equal(done.status, 200);
    await receiver.arrived(1);
    const got = receiver.received[0];
    const payload = new Webhook(secret).verify(got.body, got.headers) as {
      data: { run_id: string };
    };
    assert.equal(payload.data.run_id, run.body.run_id);
  },
});
