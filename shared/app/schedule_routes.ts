/**
 * Schedules of a deployment: read, pause, resume, preview (`deploy`), and
 * the QStash callback that fires one schedule at one fire time (`trigger`).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import type { AppDeps, AppEnv } from "./deps.ts";
import type { Auth } from "../http/auth.ts";
import { ApiError } from "../http/problem.ts";
import { zodIssuesToErrors } from "../http/error_path.ts";
import { uuidParam } from "../api/schemas.ts";
import { nextFireTime, preview } from "../schedule/mod.ts";
import { storedSpec } from "../scheduler/stored_spec.ts";
import { fireScheduleAt } from "../scheduler/fire_at.ts";
import { pushReadyTasks } from "../scheduler/push_tasks.ts";
import { firePath, qstashPublisher } from "../scheduler/qstash_delivery.ts";
import {
  invalidSignatureResponse,
  type QstashEnv,
  qstashVerified,
  SignatureError,
} from "../qstash/verify.ts";

const MAX_PREVIEW = 100;

interface ScheduleRow {
  id: string;
  spec: unknown;
  active: boolean;
  doc: Record<string, unknown>;
}

/** The schedule `:id` of deployment `:name`, or 404. */
async function findSchedule(deps: AppDeps, c: Context): Promise<ScheduleRow> {
  const name = c.req.param("name");
  const id = uuidParam(c.req.param("id")!, "schedule");
  const [row] = await deps.sql(c)<ScheduleRow>`
    select s.id, s.spec, s.active, edgeflow.schedule_json(s.id) as doc
      from edgeflow.schedules s join edgeflow.deployments d on d.id = s.deployment_id
     where d.name = ${name} and s.id = ${id}::uuid`;
  if (!row) throw ApiError.of("not_found", `deployment ${name} has no schedule ${id}`);
  return row;
}

function previewCount(raw: string | undefined): number {
  if (raw === undefined) return 10;
  const n = /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_PREVIEW)) {
    throw ApiError.of("validation_failed", "bad preview count", [
      { path: "count", message: `must be a whole number from 1 to ${MAX_PREVIEW}` },
    ]);
  }
  return n;
}

/**
 * The body QStash delivers for one fire time (the tick published it). The
 * schedule id in the signed body binds the message to its URL even where
 * the JWT's `sub` cannot be checked (no EDGEFLOW_PUBLIC_URL).
 */
export const FireBody = z.strictObject({
  schedule_id: z.uuid(),
  scheduled_time: z.iso.datetime({ offset: true }),
});

/**
 * `POST /trigger/schedules/:id/fire`, QStash's callback. The signature is
 * checked on the raw body (current key, then next) before anything is
 * parsed; without signing keys configured every call is refused.
 */
function fireRoutes(deps: AppDeps): Hono<QstashEnv> {
  const app = new Hono<QstashEnv>();
  const qstash = deps.config.qstash;
  const publicUrl = deps.config.publicUrl?.replace(/\/+$/, "");
  const verified = qstash?.currentSigningKey
    ? qstashVerified({
      currentSigningKey: qstash.currentSigningKey,
      nextSigningKey: qstash.nextSigningKey || undefined,
      // The JWT names the URL it was signed for: no replays against another schedule.
      url: publicUrl ? (c) => `${publicUrl}${c.req.path}` : undefined,
    })
    : (c: Context) =>
      invalidSignatureResponse(
        c,
        new SignatureError("invalid_signature", "QStash is not configured"),
      );
  app.post(firePath(":id"), verified, async (c) => {
    const parsed = FireBody.safeParse(parseJson(c.get("qstashBody")));
    if (!parsed.success) {
      throw ApiError.of(
        "validation_failed",
        "bad fire body",
        zodIssuesToErrors(parsed.error.issues),
      );
    }
    const id = uuidParam(c.req.param("id") ?? "", "schedule");
    if (parsed.data.schedule_id.toLowerCase() !== id) {
      throw ApiError.of("validation_failed", "this message is for another schedule", [
        { path: "schedule_id", message: "does not match the schedule in the URL" },
      ]);
    }
    const sql = deps.sql(c);
    const time = new Date(parsed.data.scheduled_time);
    const { pushPool, ...result } = await fireScheduleAt(sql, id, time, c.get("qstashMessageId"));
    const publisher = pushPool ? qstashPublisher(deps.config) : null;
    // Awaited, not waitUntil: on Workers the request's client closes with the response.
    const pushed = publisher
      ? await pushReadyTasks({ sql, publisher, pool: pushPool, publicUrl, log: deps.log })
      : 0;
    return c.json({ ...result, pushed });
  });
  return app;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Schedule routes of the functions in `served` ("deploy", "trigger"). */
export function scheduleRoutes(
  deps: AppDeps,
  auth: Auth,
  served: readonly string[],
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const now = () => (deps.now ?? (() => new Date()))();
  const scope = auth.requireScope("deploy");
  const base = "/deploy/deployments/:name/schedules/:id";
  if (served.includes("trigger")) app.route("/", fireRoutes(deps));
  if (!served.includes("deploy")) return app;

  app.get(base, scope, async (c) => c.json((await findSchedule(deps, c)).doc));

  app.get(`${base}/preview`, scope, async (c) => {
    const count = previewCount(c.req.query("count"));
    const row = await findSchedule(deps, c);
    const spec = storedSpec(row.spec);
    return c.json({
      id: row.id,
      deployment: row.doc.deployment,
      timezone: spec.timezone,
      active: row.active,
      next_fire_at: row.doc.next_fire_at,
      fire_times: preview(spec, now(), count),
    });
  });

  // Pausing is idempotent; the deploy body's `active` wins again at the next deploy.
  // The runs the tick planned ahead and that have not started are withdrawn with it.
  app.post(`${base}/pause`, scope, async (c) => {
    const row = await findSchedule(deps, c);
    const sql = deps.sql(c);
    await sql`select edgeflow.pause_schedule(${row.id}::uuid, ${now().toISOString()}::timestamptz)`;
    const [after] = await sql<{ d: unknown }>`select edgeflow.schedule_json(${row.id}::uuid) as d`;
    return c.json(after.d);
  });

  // Resuming starts at the next fire time after now: a pause is not caught up.
  app.post(`${base}/resume`, scope, async (c) => {
    const row = await findSchedule(deps, c);
    if (!row.active) {
      const next = nextFireTime(storedSpec(row.spec), now());
      await deps.sql(c)`
        update edgeflow.schedules
           set active = true, spec = jsonb_set(spec, '{active}', 'true'),
               next_fire_at = ${next?.toISOString() ?? null}::timestamptz, resumed_at = null,
               last_error = null, updated_at = now()
         where id = ${row.id}::uuid and not active`;
    }
    const [after] = await deps.sql(c)<
      { d: unknown }
    >`select edgeflow.schedule_json(${row.id}::uuid) as d`;
    return c.json(after.d);
  });

  return app;
}
