/**
 * What the dashboard does, as POST forms answered with a redirect (so a
 * reload never repeats an action): sign in and out, cancel a run, pause or
 * resume a deployment, and start runs from the trigger forms.
 *
 * Runs are started and cancelled through the trigger API's own routes,
 * called in-process with the signed-in caller, so a run started here is
 * validated, deduplicated and admitted exactly like one started over HTTP.
 */
import { type Context, Hono } from "hono";
import type { AppDeps, AppEnv } from "../app/deps.ts";
import type { Auth } from "../http/auth.ts";
import { readText } from "../http/body.ts";
import { ApiError, errorHandler, type FieldError } from "../http/problem.ts";
import { type JsonSchema, withSchemaDefaults } from "../api/params.ts";
import { uuidParam } from "../api/schemas.ts";
import { resolveFlowVersion } from "../engine/flows.ts";
import { triggerRoutes } from "../app/trigger_routes.ts";
import { retryRun } from "../app/retry_routes.ts";
import { RetryBody } from "../api/log_schema.ts";
import { zodIssuesToErrors } from "../http/error_path.ts";
import type { Wakeups } from "../app/wakeups.ts";
import { checkKey, endSession, safeNext, startSession } from "./session.ts";
import { uiOf } from "./layout.tsx";
import { LoginPage } from "./ops_pages.tsx";
import { fieldsOf, parseParameters, TriggerPage } from "./trigger_form.tsx";
import type { UiEnv } from "./routes.tsx";

/** A trigger form's target: where it posts in the API and what it validates against. */
interface Target {
  title: string;
  apiPath: string;
  schema: JsonSchema | null;
  defaults: Record<string, unknown>;
  note?: string;
}

/** The dashboard's POST routes (and the trigger forms they answer). */
export function actionRoutes(deps: AppDeps, auth: Auth, wakeups?: Wakeups): Hono<UiEnv> {
  const ui = new Hono<UiEnv>();
  const may = auth.requireScope;
  const view = (c: Context<UiEnv>) => uiOf(c, c.get("uiBase"), c.get("uiNonce"));
  const form = async (c: Context) => new URLSearchParams(await readText(c));

  // The trigger API, built once; each call runs on the dashboard request's
  // database client and as its caller (passed in as the inner request's env).
  type Outer = { outer: Context<UiEnv> };
  const asCaller: Auth = {
    requireScope: () => async (inner, next) => {
      inner.set("principal", (inner.env as Outer).outer.get("principal"));
      await next();
    },
  };
  const triggerApi = new Hono<AppEnv>();
  triggerApi.onError(errorHandler({ log: deps.log }));
  triggerApi.route(
    "/",
    triggerRoutes(
      { ...deps, sql: (inner) => deps.sql((inner.env as Outer).outer) },
      asCaller,
      wakeups,
    ),
  );

  /** Call a trigger API route in-process as the signed-in caller. */
  async function api(c: Context<UiEnv>, path: string, body: unknown, idempotencyKey?: string) {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
    const init = { method: "POST", headers, body: JSON.stringify(body) };
    const res = await triggerApi.request(path, init, { outer: c } satisfies Outer);
    return { status: res.status, body: await res.json().catch(() => null) };
  }

  ui.get("/login", (c) => {
    const ui = { ...view(c), who: null };
    if (deps.config.authDisabled) return c.redirect(`${ui.base}/runs`, 303);
    return c.html(<LoginPage ui={ui} next={safeNext(c.req.query("next"), ui.base)} />);
  });
  ui.post("/login", async (c) => {
    const ui = { ...view(c), who: null };
    const f = await form(c);
    const next = safeNext(f.get("next") ?? undefined, ui.base);
    const key = (f.get("key") ?? "").trim();
    const now = (deps.now ?? (() => new Date()))();
    const sql = deps.sql(c);
    const who = await checkKey(sql, key, deps.config.adminKey, now.getTime());
    if (!who) {
      await auth.recordFailure?.(c); // the sign-in form is rate-limited like the API
      const error = "That key is not valid: unknown, revoked or expired.";
      return c.html(<LoginPage ui={ui} next={next} error={error} />, 401);
    }
    await startSession(c, sql, who, deps.config.adminKey, now);
    return c.redirect(next, 303);
  });
  ui.post("/logout", async (c) => {
    await endSession(c, deps.sql(c));
    return c.redirect(`${c.get("uiBase")}/login`, 303);
  });

  ui.post("/runs/:id/cancel", may("trigger"), async (c) => {
    const id = uuidParam(c.req.param("id"), "run");
    const res = await api(c, `/trigger/runs/${id}/cancel`, {});
    if (res.status >= 400) throw ApiError.of("not_found", `no run ${id}`);
    return c.redirect(`${c.get("uiBase")}/runs/${id}`, 303);
  });

  // Retry: the same checks as POST /trigger/runs/:id/retry; a refusal renders as an error page.
  ui.post("/runs/:id/retry", may("trigger"), async (c) => {
    const id = uuidParam(c.req.param("id"), "run");
    const from = (await form(c)).get("from_step") ?? "";
    const parsed = RetryBody.safeParse(from ? { from_step: from } : {});
    if (!parsed.success) {
      throw ApiError.of("validation_failed", "bad retry", zodIssuesToErrors(parsed.error.issues));
    }
    await retryRun(deps.sql(c), id, parsed.data);
    wakeups?.wake();
    return c.redirect(`${c.get("uiBase")}/runs/${id}`, 303);
  });

  for (const action of ["pause", "resume"] as const) {
    ui.post(`/deployments/:name/${action}`, may("deploy"), async (c) => {
      const name = c.req.param("name");
      const [row] = await deps.sql(c)<{ d: unknown }>`
        select edgeflow.ui_set_deployment_paused(${name}, ${action === "pause"}) as d`;
      if (!row?.d) throw ApiError.of("not_found", `no deployment named ${name}`);
      return c.redirect(
        `${c.get("uiBase")}/deployments#deployment-${encodeURIComponent(name)}`,
        303,
      );
    });
  }

  /** A trigger form page (GET) and its submission (POST) for targets found by `find`. */
  function triggerForm(path: string, find: (c: Context<UiEnv>) => Promise<Target>) {
    const render = (
      c: Context<UiEnv>,
      t: Target,
      values: Record<string, unknown>,
      errors?: FieldError[],
    ) =>
      c.html(
        <TriggerPage
          ui={view(c)}
          title={t.title}
          action={c.req.path}
          fields={fieldsOf(t.schema)}
          values={values}
          errors={errors}
          note={t.note}
          idempotencyKey={crypto.randomUUID()}
        />,
        errors?.length ? 422 : 200,
      );
    ui.get(path, may("trigger"), async (c) => {
      // A read key may GET this page's route, but a form it cannot submit helps nobody.
      if (!view(c).can("trigger")) throw ApiError.of("forbidden", "this key cannot start runs");
      const t = await find(c);
      return render(c, t, withSchemaDefaults(t.schema, t.defaults));
    });
    ui.post(path, may("trigger"), async (c) => {
      const t = await find(c);
      const f = await form(c);
      const { parameters, errors } = parseParameters(f, fieldsOf(t.schema));
      if (errors.length) return render(c, t, { ...t.defaults, ...parameters }, errors);
      const res = await api(c, t.apiPath, { parameters }, f.get("idempotency_key") || undefined);
      if (res.status === 422) {
        return render(c, t, { ...t.defaults, ...parameters }, res.body.errors);
      }
      if (res.status >= 400) {
        const code = (res.body?.code ?? "bad_request") as Parameters<typeof ApiError.of>[0];
        throw ApiError.of(code, res.body?.detail ?? "the run did not start");
      }
      return c.redirect(`${c.get("uiBase")}/runs/${res.body.run_id}`, 303);
    });
  }

  triggerForm("/deployments/:name/trigger", async (c) => {
    const name = c.req.param("name") ?? "";
    const [row] = await deps.sql(c)<{ t: Record<string, unknown> | null }>`
      select edgeflow.deployment_target(${name}) as t`;
    if (!row?.t) throw ApiError.of("not_found", `no deployment named ${name}`);
    return {
      title: `Run deployment ${name}`,
      apiPath: `/trigger/${encodeURIComponent(name)}`,
      schema: (row.t.schema as JsonSchema | null) ?? null,
      defaults: (row.t.parameters as Record<string, unknown>) ?? {},
      note: `${row.t.flow} v${row.t.version}${
        row.t.paused ? " · this deployment is paused: runs are refused" : ""
      }`,
    };
  });
  triggerForm("/flows/:name/trigger", async (c) => {
    const name = c.req.param("name") ?? "";
    const sql = deps.sql(c);
    const version = await resolveFlowVersion(sql, name, null);
    if (!version) throw ApiError.of("not_found", `no flow ${name}`);
    const [row] = await sql<{ schema: JsonSchema | null }>`
      select definition -> 'parameters' as schema from edgeflow.flow_versions
       where id = ${version.id}::uuid`;
    return {
      title: `Run flow ${name}`,
      apiPath: `/trigger/flows/${encodeURIComponent(name)}`,
      schema: row?.schema ?? null,
      defaults: {},
      note: `v${version.version}, ad hoc (no deployment), pool default`,
    };
  });

  return ui;
}
