import assert from "node:assert/strict";
import { createApp } from "../../shared/app/app.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { workerApp } from "../../shared/runtime/cloudflare.ts";

const deps = {
  sql: () => {
    throw new Error("no database in this test");
  },
  config: { heartbeatSeconds: 10, leaseSeconds: 30 },
  log: silentLogger,
};

Deno.test("GET / sends a visitor to the dashboard, not a JSON 404", async () => {
  const res = await createApp(deps).request("/", { redirect: "manual" });
  assert.equal(res.status, 302);
  assert.equal(new URL(res.headers.get("location")!, "http://h/").pathname, "/ui");
  // Supabase serves the trigger function under /functions/v1/trigger: relative, it stays inside.
  const fn = await createApp(deps, { functions: ["trigger"] }).request("/trigger");
  assert.equal(fn.status, 302);
  const loc = fn.headers.get("location")!;
  assert.equal(
    new URL(loc, "https://p.supabase.co/functions/v1/trigger").pathname,
    "/functions/v1/trigger/ui",
  );
  // With a trailing slash (as typed, or as a gateway hands it over) too.
  const slash = await createApp(deps, { functions: ["trigger"] }).request("/trigger/");
  assert.equal(slash.status, 302);
  assert.equal(
    new URL(slash.headers.get("location")!, "https://p.supabase.co/functions/v1/trigger/").pathname,
    "/functions/v1/trigger/ui",
  );
  // Where the dashboard is not served, the root stays a problem document.
  const bare = await createApp(deps, { functions: ["register"] }).request("/");
  assert.equal(bare.status, 404);
});

Deno.test("behind Supabase's gateway the dashboard's redirects keep /functions/v1", async () => {
  const app = createApp({ ...deps, config: { ...deps.config, pathPrefix: "/functions/v1" } }, {
    functions: ["trigger"],
  });
  // The function sees /trigger/ui/…; the browser is at /functions/v1/trigger/ui/….
  for (const path of ["/trigger/ui", "/trigger/ui/"]) {
    const res = await app.request(path, { redirect: "manual" });
    assert.equal(res.status, 303, path);
    const loc = res.headers.get("location")!;
    assert.equal(
      new URL(loc, `https://p.supabase.co/functions/v1${path}`).pathname,
      "/functions/v1/trigger/ui/runs",
      `${path} → ${loc}`,
    );
  }
});

Deno.test("the Workers entrypoint builds its app once per isolate (per env binding)", () => {
  const env = { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" };
  const first = workerApp(env);
  assert.equal(workerApp(env), first, "the same app for every request of an isolate");
  assert.notEqual(workerApp({ ...env }), first, "another binding, another app");
});
