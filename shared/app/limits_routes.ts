/**
 * `deploy`: concurrency limits and pool queues.
 *
 *   POST   /deploy/concurrency-limits        {"tag","limit"}  → 201 created / 200 updated
 *   GET    /deploy/concurrency-limits        → {"limits": [...]}
 *   GET    /deploy/concurrency-limits/:tag   → the limit, its active slots and holders
 *   DELETE /deploy/concurrency-limits/:tag   → 204
 *   POST   /deploy/pools/:pool/queues        {"name","priority","concurrency_limit","paused"}
 *
 * A tag limit applies to every task of a run carrying the tag (runs carry
 * their deployment's tags): such a task needs a slot of each of its tags'
 * limits to be claimed. Slots live in the engine (migrations 0015–0017).
 */
import { Hono } from "hono";
import { z } from "zod";
import type { AppDeps, AppEnv } from "./deps.ts";
import type { Auth } from "../http/auth.ts";
import { readJsonAs } from "../http/body.ts";
import { ApiError } from "../http/problem.ts";
import { ConcurrencyLimitBody, Name } from "../api/schemas.ts";

/** The body of `POST /deploy/pools/:pool/queues`; fields left out take their defaults. */
export const QueueBody = z.strictObject({
  name: Name,
  priority: z.number().int().min(-1000).max(1000).default(0),
  concurrency_limit: z.number().int().min(0).max(1_000_000).nullable().default(null),
  paused: z.boolean().default(false),
});

/** Tags are free text: refuse in the path what the body schema would refuse. */
function tagParam(raw: string): string {
  const parsed = ConcurrencyLimitBody.shape.tag.safeParse(raw);
  if (!parsed.success) throw ApiError.of("not_found", `no concurrency limit for tag ${raw}`);
  return parsed.data;
}

/** Routes of concurrency limits and queues; mounted with the `deploy` function. */
export function limitsRoutes(deps: AppDeps, auth: Auth): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const scope = auth.requireScope("deploy");

  app.post("/deploy/concurrency-limits", scope, async (c) => {
    const body = await readJsonAs(c, ConcurrencyLimitBody);
    const [row] = await deps.sql(c)<{ r: { limit: unknown; created: boolean } }>`
      select edgeflow.set_concurrency_limit(${body.tag}, ${body.limit}::int) as r`;
    return c.json(row.r.limit, row.r.created ? 201 : 200);
  });

  app.get("/deploy/concurrency-limits", scope, async (c) => {
    const rows = await deps.sql(c)<{ l: unknown }>`
      select edgeflow.concurrency_limit_json(tag) as l from edgeflow.concurrency_limits
       order by tag limit 1000`;
    return c.json({ limits: rows.map((r) => r.l) });
  });

  app.get("/deploy/concurrency-limits/:tag", scope, async (c) => {
    const tag = tagParam(c.req.param("tag"));
    const [row] = await deps.sql(c)<{ l: unknown }>`
      select edgeflow.concurrency_limit_json(${tag}) as l`;
    if (!row?.l) throw ApiError.of("not_found", `no concurrency limit for tag ${tag}`);
    return c.json(row.l);
  });

  app.delete("/deploy/concurrency-limits/:tag", scope, async (c) => {
    const tag = tagParam(c.req.param("tag"));
    const [row] = await deps.sql(c)<{ deleted: boolean }>`
      select edgeflow.delete_concurrency_limit(${tag}) as deleted`;
    if (!row.deleted) throw ApiError.of("not_found", `no concurrency limit for tag ${tag}`);
    return c.body(null, 204);
  });

  app.post("/deploy/pools/:pool/queues", scope, async (c) => {
    const pool = c.req.param("pool");
    const body = await readJsonAs(c, QueueBody);
    const [row] = await deps.sql(c)<{ r: { error?: string; pool?: unknown; created?: boolean } }>`
      select edgeflow.upsert_pool_queue(${pool}, ${body.name}, ${body.priority}::int,
                                        ${body.concurrency_limit}::int, ${body.paused}) as r`;
    if (row.r.error) throw ApiError.of("not_found", `no pool named ${pool}`);
    return c.json(row.r.pool, row.r.created ? 201 : 200);
  });

  return app;
}
