/** `register`: flow versions (register, list, show, archive). */
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "./deps.ts";
import type { Auth } from "../http/auth.ts";
import { readJsonAs } from "../http/body.ts";
import { ApiError } from "../http/problem.ts";
import { RegisterBody } from "../api/schemas.ts";
import { normalizeFlow } from "../api/normalize_flow.ts";
import { versionParam } from "../api/names.ts";
import { archiveFlowVersion, registerFlow } from "../engine/flows.ts";
import { assertFlowVersionAcyclic } from "./cycle_guard.ts";

export function registerRoutes(deps: AppDeps, auth: Auth): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const scope = auth.requireScope("register");

  app.post("/register", scope, async (c) => {
    const body = await readJsonAs(c, RegisterBody);
    const { flow, idempotency_key, version_group } = normalizeFlow(body);
    const written = new Map((body.steps ?? []).map((s, i) => [s.slug, i]));
    await assertFlowVersionAcyclic(deps.sql(c), flow, (slug) => written.get(slug) ?? 0);
    const result = await registerFlow(deps.sql(c), flow, {
      idempotencyKey: idempotency_key,
      versionGroup: version_group,
    });
    return c.json(result, result.created ? 201 : 200);
  });

  app.get("/register/flows", scope, async (c) => {
    const rows = await deps.sql(c)<{ flow: unknown }>`
      select edgeflow.flow_version_json(v.id) as flow
        from (select distinct on (flow_name) id, flow_name from edgeflow.flow_versions
               order by flow_name, version desc) v
       order by v.flow_name`;
    return c.json({ flows: rows.map((r) => r.flow) });
  });

  app.get("/register/flows/:name", scope, async (c) => {
    const name = c.req.param("name");
    const rows = await deps.sql(c)<{ v: Record<string, unknown> }>`
      select edgeflow.flow_version_json(id) as v from edgeflow.flow_versions
       where flow_name = ${name} order by version desc`;
    if (!rows.length) throw ApiError.of("not_found", `no flow named ${name}`);
    const latest = rows[0].v;
    return c.json({ ...latest, versions: rows.map((r) => r.v) });
  });

  app.post("/register/flows/:name/versions/:version/archive", scope, async (c) => {
    const version = versionParam(c.req.param("version"));
    if (version === null) throw ApiError.of("not_found", "no such version");
    const result = await archiveFlowVersion(deps.sql(c), c.req.param("name"), version);
    if (result.error) {
      throw ApiError.of("not_found", `no version ${version} of flow ${c.req.param("name")}`);
    }
    return c.json(result);
  });

  return app;
}
