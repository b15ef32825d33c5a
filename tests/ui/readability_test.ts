/** The dashboard's words for people, without a browser: empty filtered lists, errors, counts. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { ADMIN_KEY, testApp } from "../support/app.ts";
import { emptyText } from "../../shared/ui/runs_pages.tsx";
import { ErrorText } from "../../shared/ui/layout.tsx";

Deno.test("an empty runs list says what was filtered", () => {
  assert.equal(emptyText({}, false), "No runs yet.");
  assert.equal(emptyText({ status: "FAILED" }, false), "No FAILED runs.");
  assert.equal(
    emptyText({ status: "RUNNING", flow: "etl", deployment: "etl-nightly" }, false),
    "No RUNNING runs of flow etl in deployment etl-nightly.",
  );
  assert.equal(emptyText({}, true), "No runs on this page.");
});

Deno.test("an error shows its message as text and folds its stack", () => {
  const html = String(ErrorText({
    value: {
      message: "disk full\nat /data",
      type: "Error",
      stack: "Error: disk full\n    at w (h.ts:1:1)",
    },
  }));
  assert.match(html, /<pre class="err-msg"><b>Error: <\/b>disk full\nat \/data<\/pre>/);
  assert.match(
    html,
    /<details><summary>stack<\/summary><pre class="err-stack"> {4}at w \(h\.ts:1:1\)<\/pre><\/details>/,
  );
  assert.doesNotMatch(html, /\\n|&quot;message/);
  assert.match(
    String(ErrorText({ value: "lease expired" })),
    /<pre class="err-msg">lease expired<\/pre>/,
  );
});

dbTest("the runs page says No FAILED runs, and a map step shows tasks and retries", async (db) => {
  const t = testApp(db);
  const get = async (path: string) => {
    const res = await t.app.request(path, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    return { status: res.status, html: await res.text() };
  };
  const empty = await get("/ui/runs?status=FAILED");
  assert.equal(empty.status, 200);
  assert.match(empty.html, /No FAILED runs\./);
  assert.doesNotMatch(empty.html, /No runs yet/);

  await t.call("POST", "/register", {
    name: "fan",
    steps: [{ slug: "list" }, { slug: "each", depends_on: ["list"], map: "list" }],
  });
  const run = await t.call("POST", "/trigger/flows/fan", {});
  const work = async (handler: string, output: unknown) => {
    const hb = await t.call("POST", "/heartbeat", {
      worker: "w",
      pool: "default",
      capacity: 5,
      handlers: [handler],
    });
    for (const task of hb.body.tasks) {
      await t.call("POST", `/heartbeat/tasks/${task.task}/complete`, { lease: task.lease, output });
    }
    return hb.body.tasks.length;
  };
  assert.equal(await work("list", [1, 2, 3]), 1);
  assert.equal(await work("each", 0), 3);
  const page = await get(`/ui/runs/${run.body.run_id}`);
  assert.match(page.html, /<th>Tasks<\/th><th>Retries<\/th>/);
  assert.match(
    page.html,
    /data-step-row="each">.*?<td class="num">3<\/td><td class="num">0<\/td>/s,
  );
  assert.match(page.html, /<time [^>]*>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC<\/time>/);
});
