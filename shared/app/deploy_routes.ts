/** `deploy`: deployments, work pools, API keys, variables. */
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "./deps.ts";
import type { Auth } from "../http/auth.ts";
import { readJsonAs } from "../http/body.ts";
import { ApiError } from "../http/problem.ts";
import { refusalError } from "./refusals.ts";
import { DeployBody, KeyBody, PoolBody, uuidParam, VariableBody } from "../api/schemas.ts";
import { createKey, listKeys, revokeKey } from "./key_store.ts";
import { deployWithSchedules } from "../scheduler/deploy_schedules.ts";
import { assertDeploymentAcyclic } from "./cycle_guard.ts";
import { planInBackground } from "./plan_topup.ts";

const UPSERT_ERRORS: Record<string, string> = {
  unknown_flow: "no flow with this name is registered",
  unknown_version: "the flow has no such version",
  unknown_pool: "no such pool; create it with POST /deploy/pools",
};

export function deployRoutes(deps: AppDeps, auth: Auth): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const scope = auth.requireScope("deploy");

  app.post("/deploy", scope, async (c) => {
    const body = await readJsonAs(c, DeployBody);
    // Schedules are validated, matched to the existing ones and written with
    // the deployment in one transaction (shared/scheduler/deploy_schedules.ts).
    await assertDeploymentAcyclic(
      deps.sql(c),
      body.name,
      body.flow,
      body.version === "latest" ? null : body.version,
    );
    const r = await deployWithSchedules(deps.sql(c), body, (deps.now ?? (() => new Date()))());
    if (r.error !== undefined) {
      throw refusalError(r.error, "the deployment is invalid", [
        { path: r.path ?? "", message: UPSERT_ERRORS[r.error] ?? r.error },
      ]);
    }
    // Fire times for the SQL tick (pg_cron's `select edgeflow.tick()`).
    if (body.schedules.length > 0) await planInBackground(deps, deps.sql(c));
    return c.json(r.deployment, r.created ? 201 : 200);
  });

  app.get("/deploy/deployments", scope, async (c) => {
    const rows = await deps.sql(c)<{ d: unknown }>`
      select edgeflow.deployment_json(id) as d from edgeflow.deployments order by name`;
    return c.json({ deployments: rows.map((r) => r.d) });
  });

  app.get("/deploy/deployments/:name", scope, async (c) => {
    const [row] = await deps.sql(c)<{ d: unknown }>`
      select edgeflow.deployment_json(id) as d from edgeflow.deployments
       where name = ${c.req.param("name")}`;
    if (!row) throw ApiError.of("not_found", `no deployment named ${c.req.param("name")}`);
    return c.json(row.d);
  });

  app.post("/deploy/pools", scope, async (c) => {
    const body = await readJsonAs(c, PoolBody);
    const [row] = await deps.sql(c)<{ created: boolean; p: unknown }>`
      with up as (
        insert into edgeflow.pools as p (name, type, description, concurrency_limit, paused, url)
        values (${body.name}, ${body.type}, ${body.description}, ${body.concurrency_limit}::int,
                ${body.paused}, ${body.url})
        on conflict (name) do update
           set type = excluded.type, description = excluded.description,
               concurrency_limit = excluded.concurrency_limit,
               paused = excluded.paused, url = excluded.url, updated_at = now()
        returning p.name, (p.xmax = 0) as created
      ), q as (
        insert into edgeflow.pool_queues (pool, name) select name, 'default' from up
        on conflict do nothing
      )
      select created, null as p from up`;
    const [doc] = await deps.sql(c)<{ p: unknown }>`select edgeflow.pool_json(${body.name}) as p`;
    return c.json(doc.p, row.created ? 201 : 200);
  });

  app.get("/deploy/pools", scope, async (c) => {
    const rows = await deps.sql(c)<{ p: unknown }>`
      select edgeflow.pool_json(name) as p from edgeflow.pools order by name`;
    return c.json({ pools: rows.map((r) => r.p) });
  });

  app.get("/deploy/pools/:name", scope, async (c) => {
    const [row] = await deps.sql(c)<{ p: unknown }>`
      select edgeflow.pool_json(${c.req.param("name")}) as p`;
    if (!row?.p) throw ApiError.of("not_found", `no pool named ${c.req.param("name")}`);
    return c.json(row.p);
  });

  // Key management needs the admin scope: a key that can mint or revoke keys can do anything.
  const admin = auth.requireScope("admin");
  app.post("/deploy/keys", admin, async (c) => {
    const { expires_in, ...body } = await readJsonAs(c, KeyBody);
    const now = (deps.now ?? (() => new Date()))();
    const expires_at = expires_in !== undefined
      ? new Date(now.getTime() + expires_in * 1000).toISOString()
      : body.expires_at;
    if (expires_at !== null && new Date(expires_at).getTime() <= now.getTime()) {
      throw ApiError.of("validation_failed", "the key would be expired already", [
        { path: "expires_at", message: "must be in the future" },
      ]);
    }
    return c.json(await createKey(deps.sql(c), { ...body, expires_at }), 201);
  });

  app.get("/deploy/keys", admin, async (c) => {
    return c.json({ keys: await listKeys(deps.sql(c)) });
  });

  app.delete("/deploy/keys/:id", admin, async (c) => {
    const id = uuidParam(c.req.param("id"), "key");
    const key = await revokeKey(deps.sql(c), id, (deps.now ?? (() => new Date()))());
    if (!key) throw ApiError.of("not_found", `no key ${id}`);
    return c.json(key);
  });

  app.get("/deploy/variables", scope, async (c) => {
    const rows = await deps.sql(c)<Record<string, unknown>>`
      select name, value, edgeflow.iso(updated_at) as updated_at from edgeflow.variables
       order by name limit 1000`;
    return c.json({ variables: rows.map((r) => ({ ...r })) });
  });

  app.get("/deploy/variables/:name", scope, async (c) => {
    const [row] = await deps.sql(c)<Record<string, unknown>>`
      select name, value, edgeflow.iso(updated_at) as updated_at from edgeflow.variables
       where name = ${c.req.param("name")}`;
    if (!row) throw ApiError.of("not_found", `no variable named ${c.req.param("name")}`);
    return c.json({ ...row });
  });

  app.put("/deploy/variables/:name", scope, async (c) => {
    const name = c.req.param("name");
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(name)) {
      throw ApiError.of("validation_failed", "bad variable name", [
        { path: "name", message: "must be 1-128 letters, digits, '.', '_' or '-'" },
      ]);
    }
    const body = await readJsonAs(c, VariableBody);
    const [row] = await deps.sql(c)<Record<string, unknown>>`
      insert into edgeflow.variables as v (name, value)
      values (${name}, ${JSON.stringify(body.value)}::text::jsonb)
      on conflict (name) do update set value = excluded.value, updated_at = now()
      returning v.name, v.value, edgeflow.iso(v.updated_at) as updated_at`;
    return c.json({ ...row });
  });

  app.delete("/deploy/variables/:name", scope, async (c) => {
    const rows = await deps.sql(c)`
      delete from edgeflow.variables where name = ${c.req.param("name")} returning name`;
    if (!rows.length) throw ApiError.of("not_found", `no variable named ${c.req.param("name")}`);
    return c.body(null, 204);
  });

  return app;
}
