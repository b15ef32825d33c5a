// deno-lint-ignore-file no-explicit-any
/** A flow, a deployment and a hook over a test database, and a way to post signed deliveries. */
import assert from "node:assert/strict";
import type { TestDatabase } from "../support/db.ts";
import { type TestApp, testApp } from "../support/app.ts";
import type { Signed } from "./signers.ts";

export interface HookWorld extends TestApp {
  /** The app's clock (verification, received_at); tests move it. */
  clock: { now: Date };
  /** POST a signed delivery to `/trigger/hooks/<name>`, with no edgeflow key. */
  deliver(name: string, signed: Signed, query?: string): Promise<{ status: number; body: any }>;
  /** Runs of the deployment, oldest first. */
  runs(): Promise<{ id: string; parameters: Record<string, unknown> }[]>;
}

/** Flow `ci` (repo and sha required strings, event optional) deployed as `ci-build`. */
export async function hookWorld(db: TestDatabase, start = new Date()): Promise<HookWorld> {
  const clock = { now: start };
  const t = testApp(db, {}, { now: () => clock.now });
  const flow = await t.call("POST", "/register", {
    name: "ci",
    parameters: {
      type: "object",
      properties: {
        repo: { type: "string" },
        sha: { type: "string" },
        event: { type: "string" },
        size: { type: "integer" },
        commits: { type: "array" },
        label: { type: "string" },
      },
      required: ["repo", "sha"],
    },
    steps: [{ slug: "build" }],
  });
  assert.equal(flow.status, 201, JSON.stringify(flow.body));
  const dep = await t.call("POST", "/deploy", { name: "ci-build", flow: "ci", parameters: {} });
  assert.equal(dep.status, 201, JSON.stringify(dep.body));
  return {
    ...t,
    clock,
    async deliver(name, signed, query = "") {
      const res = await t.app.request(`/trigger/hooks/${name}${query}`, {
        method: "POST",
        headers: signed.headers,
        body: signed.body,
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    async runs() {
      return await db.sql<{ id: string; parameters: Record<string, unknown> }>`
        select id, parameters from edgeflow.runs order by created_at, id`;
    },
  };
}

/** Create (or update) a hook on `ci-build`; asserts it was accepted. */
export async function createHook(world: HookWorld, hook: Record<string, unknown>): Promise<any> {
  const res = await world.call("POST", "/deploy/webhooks", { deployment: "ci-build", ...hook });
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  return res.body;
}
