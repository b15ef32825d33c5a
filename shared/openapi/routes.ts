/**
 * Every route the app mounts, with the zod schemas that validate its input
 * (the same objects the handlers pass to readJsonAs / parse) and those of
 * its responses (./responses.ts). The OpenAPI document is generated from
 * this table; tests/ops/openapi_test.ts fails when a mounted route is
 * missing here, so a new route must be described to land.
 */
import type { z } from "zod";
import { RegisterBody } from "../api/flow_schema.ts";
import {
  ConcurrencyLimitBody,
  DeployBody,
  KeyBody,
  PoolBody,
  VariableBody,
} from "../api/deploy_schema.ts";
import { AdHocRunBody, DeploymentTriggerBody, RunsQuery } from "../api/run_schema.ts";
import {
  CompleteBatchBody,
  CompleteBody,
  FailBatchBody,
  FailBody,
  HeartbeatBody,
} from "../api/worker_schema.ts";
import { EventBody, EventsQuery, SuspendBody } from "../api/event_schema.ts";
import { LogsBody, RetryBody } from "../api/log_schema.ts";
import { DeliveriesQuery, NotificationBody, WebhookBody } from "../webhooks/schema.ts";
import { QueueBody } from "../app/limits_routes.ts";
import { GraphQLBody } from "../app/graphql_routes.ts";
import { FireBody } from "../app/schedule_routes.ts";
import * as R from "./responses.ts";

/** How a response body is described: a zod schema (JSON), or a media type. */
export type Body = z.ZodType | "html" | "text" | "event-stream" | "redirect" | "empty";

export interface RouteSpec {
  method: "get" | "post" | "put" | "delete";
  /** Hono path (`/trigger/runs/:id`). */
  path: string;
  summary: string;
  tag: string;
  /** Scope the key must hold; null: no key (health, docs, signed callbacks). */
  scope: "read" | "register" | "deploy" | "trigger" | "worker" | "admin" | null;
  body?: z.ZodType;
  query?: z.ZodType;
  /** Success responses by status. */
  ok: Record<number, Body>;
}

const route = (
  method: RouteSpec["method"],
  path: string,
  tag: string,
  scope: RouteSpec["scope"],
  summary: string,
  ok: RouteSpec["ok"],
  extra: Partial<Pick<RouteSpec, "body" | "query">> = {},
): RouteSpec => ({ method, path, tag, scope, summary, ok, ...extra });

const FUNCTIONS = ["register", "deploy", "trigger", "heartbeat"];

/** Dashboard pages, served under `/ui` and `/trigger/ui` (Supabase's per-function path). */
const UI_PAGES: [RouteSpec["method"], string, string][] = [
  ["get", "", "the dashboard (redirects to its runs)"],
  ["get", "/", "the dashboard"],
  ["get", "/login", "sign-in form"],
  ["post", "/login", "sign in with an API key (sets a session cookie)"],
  ["post", "/logout", "sign out"],
  ["get", "/runs", "runs"],
  ["get", "/runs/:id", "one run: its DAG, steps and events"],
  ["get", "/runs/:id/live", "the live part of a run page (polled)"],
  ["post", "/runs/:id/cancel", "cancel a run"],
  ["get", "/flows", "flows"],
  ["get", "/flows/:name", "one flow"],
  ["get", "/flows/:name/trigger", "form to start an ad hoc run"],
  ["post", "/flows/:name/trigger", "start an ad hoc run"],
  ["get", "/deployments", "deployments"],
  ["get", "/deployments/:name/trigger", "form to trigger a deployment"],
  ["post", "/deployments/:name/trigger", "trigger a deployment"],
  ["post", "/deployments/:name/pause", "pause a deployment"],
  ["post", "/deployments/:name/resume", "resume a deployment"],
  ["get", "/concurrency", "concurrency limits and slots"],
  ["get", "/workers", "workers"],
  ["get", "/webhooks", "inbound webhooks, notifications and their deliveries"],
  ["post", "/runs/:id/retry", "retry a finished run from its failed steps"],
];

export const ROUTES: RouteSpec[] = [
  route("get", "/health", "health", null, "the database answers", { 200: R.Health }),
  ...FUNCTIONS.map((f) =>
    route("get", `/${f}/health`, "health", null, "the database answers", { 200: R.Health })
  ),
  route("get", "/", "dashboard", null, "redirects to the dashboard", { 302: "redirect" }),
  route("get", "/trigger", "dashboard", null, "redirects to the dashboard", { 302: "redirect" }),
  route("get", "/trigger/", "dashboard", null, "redirects to the dashboard", { 302: "redirect" }),
  route("get", "/openapi.json", "meta", null, "this document", { 200: R.AnyObject }),
  route("get", "/docs", "meta", null, "this document, rendered", { 200: "html" }),
  route("get", "/metrics", "meta", "read", "Prometheus metrics", { 200: "text" }),
  route("get", "/trigger/metrics", "meta", "read", "Prometheus metrics", { 200: "text" }),

  route("post", "/register", "register", "register", "register a flow version", {
    200: R.Registered,
    201: R.Registered,
  }, { body: RegisterBody }),
  route("get", "/register/flows", "register", "read", "latest version of each flow", {
    200: R.FlowList,
  }),
  route("get", "/register/flows/:name", "register", "read", "a flow with all versions", {
    200: R.Flow,
  }),
  route(
    "post",
    "/register/flows/:name/versions/:version/archive",
    "register",
    "register",
    "archive a version: no new runs on it",
    { 200: R.AnyObject },
  ),
  route("get", "/register/graphql", "register", "read", "GraphQL (query in the URL)", {
    200: R.AnyObject,
  }),
  route("post", "/register/graphql", "register", "read", "GraphQL", { 200: R.AnyObject }, {
    body: GraphQLBody,
  }),

  route("post", "/deploy", "deploy", "deploy", "create or update a deployment", {
    200: R.Deployment,
    201: R.Deployment,
  }, { body: DeployBody }),
  route("get", "/deploy/deployments", "deploy", "read", "deployments", {
    200: R.DeploymentList,
  }),
  route("get", "/deploy/deployments/:name", "deploy", "read", "one deployment", {
    200: R.Deployment,
  }),
  route("get", "/deploy/deployments/:name/schedules/:id", "deploy", "read", "one schedule", {
    200: R.AnyObject,
  }),
  route(
    "get",
    "/deploy/deployments/:name/schedules/:id/preview",
    "deploy",
    "read",
    "the next fire times of a schedule",
    { 200: R.AnyObject },
  ),
  route("post", "/deploy/deployments/:name/schedules/:id/pause", "deploy", "deploy", "pause", {
    200: R.AnyObject,
  }),
  route("post", "/deploy/deployments/:name/schedules/:id/resume", "deploy", "deploy", "resume", {
    200: R.AnyObject,
  }),
  route("post", "/deploy/pools", "deploy", "deploy", "create or update a work pool", {
    200: R.Pool,
    201: R.Pool,
  }, { body: PoolBody }),
  route("get", "/deploy/pools", "deploy", "read", "work pools", { 200: R.PoolList }),
  route("get", "/deploy/pools/:name", "deploy", "read", "one work pool", { 200: R.Pool }),
  route("post", "/deploy/pools/:pool/queues", "deploy", "deploy", "create or update a queue", {
    200: R.AnyObject,
    201: R.AnyObject,
  }, { body: QueueBody }),
  route("post", "/deploy/keys", "deploy", "admin", "create an API key (shown once)", {
    201: R.CreatedKey,
  }, { body: KeyBody }),
  route("get", "/deploy/keys", "deploy", "admin", "API keys, without secrets", {
    200: R.AnyObject,
  }),
  route("delete", "/deploy/keys/:id", "deploy", "admin", "revoke an API key", {
    200: R.AnyObject,
    204: "empty",
  }),
  route("get", "/deploy/variables", "deploy", "read", "variables", { 200: R.AnyObject }),
  route("get", "/deploy/variables/:name", "deploy", "read", "one variable", {
    200: R.AnyObject,
  }),
  route("put", "/deploy/variables/:name", "deploy", "deploy", "set a variable", {
    200: R.AnyObject,
    201: R.AnyObject,
  }, { body: VariableBody }),
  route("delete", "/deploy/variables/:name", "deploy", "deploy", "delete a variable", {
    200: R.AnyObject,
    204: "empty",
  }),
  route("post", "/deploy/concurrency-limits", "deploy", "deploy", "set a tag limit", {
    200: R.AnyObject,
    201: R.AnyObject,
  }, { body: ConcurrencyLimitBody }),
  route("get", "/deploy/concurrency-limits", "deploy", "read", "tag limits", {
    200: R.AnyObject,
  }),
  route("get", "/deploy/concurrency-limits/:tag", "deploy", "read", "one tag limit", {
    200: R.AnyObject,
  }),
  route("delete", "/deploy/concurrency-limits/:tag", "deploy", "deploy", "delete a tag limit", {
    200: R.AnyObject,
    204: "empty",
  }),

  route("post", "/trigger/:deployment", "trigger", "trigger", "start a run of a deployment", {
    200: R.TriggerResult,
    201: R.TriggerResult,
  }, { body: DeploymentTriggerBody }),
  route("post", "/trigger/flows/:flow", "trigger", "trigger", "start an ad hoc run", {
    200: R.TriggerResult,
    201: R.TriggerResult,
  }, { body: AdHocRunBody }),
  route("get", "/trigger/runs", "trigger", "read", "runs, newest first", { 200: R.RunList }, {
    query: RunsQuery,
  }),
  route("get", "/trigger/runs/:id", "trigger", "read", "one run with its steps", { 200: R.Run }),
  route("get", "/trigger/runs/:id/events", "trigger", "read", "a run's state changes", {
    200: R.EventPage,
  }),
  route("post", "/trigger/runs/:id/cancel", "trigger", "trigger", "cancel a run", {
    202: R.CancelResult,
  }),
  route("post", "/trigger/tick", "trigger", "trigger", "one scheduler and maintenance pass", {
    200: R.AnyObject,
  }),
  route("post", "/trigger/schedules/:id/fire", "trigger", null, "QStash fires a schedule", {
    200: R.AnyObject,
    201: R.AnyObject,
  }, { body: FireBody }),

  route("post", "/heartbeat", "heartbeat", "worker", "stay alive, keep leases, claim work", {
    200: R.HeartbeatResult,
  }, { body: HeartbeatBody }),
  route("post", "/heartbeat/tasks/:task/complete", "heartbeat", "worker", "complete a task", {
    200: R.AnyObject,
  }, { body: CompleteBody }),
  route("post", "/heartbeat/tasks/:task/fail", "heartbeat", "worker", "fail a task", {
    200: R.FailResult,
  }, { body: FailBody }),
  route(
    "post",
    "/heartbeat/tasks/:task/suspend",
    "heartbeat",
    "worker",
    "suspend a task until an event (waitForEvent)",
    {
      200: R.AnyObject,
    },
    { body: SuspendBody },
  ),
  route("get", "/heartbeat/workers", "heartbeat", "read", "workers", { 200: R.AnyObject }),
  route("get", "/heartbeat/runs/:run/job", "heartbeat", "worker", "how to start a run's tasks", {
    200: R.AnyObject,
  }),
  route("get", "/heartbeat/pools/:pool/queued", "heartbeat", "read", "queued work by handler", {
    200: R.AnyObject,
  }),

  // Many results in one call (shared/app/task_results.ts): each answered on its own.
  route("post", "/heartbeat/tasks/complete", "heartbeat", "worker", "complete many tasks", {
    200: R.AnyObject,
  }, { body: CompleteBatchBody }),
  route("post", "/heartbeat/tasks/fail", "heartbeat", "worker", "fail many tasks", {
    200: R.AnyObject,
  }, { body: FailBatchBody }),
  route("post", "/heartbeat/tasks/:task/logs", "heartbeat", "worker", "ship a task's log lines", {
    200: R.AnyObject,
  }, { body: LogsBody }),

  route("get", "/trigger/runs/:id/logs", "trigger", "trigger", "a run's log lines (JSON or SSE)", {
    200: R.AnyObject,
  }),
  route("post", "/trigger/runs/:id/retry", "trigger", "trigger", "retry a finished run", {
    202: R.AnyObject,
  }, { body: RetryBody }),
  route("post", "/trigger/events", "events", "trigger", "send an event", {
    200: R.AnyObject,
    202: R.AnyObject,
  }, { body: EventBody }),
  route("get", "/trigger/events", "events", "trigger", "events by name and key", {
    200: R.AnyObject,
  }, { query: EventsQuery }),

  route("post", "/deploy/webhooks", "webhooks", "deploy", "create or update an inbound webhook", {
    200: R.AnyObject,
    201: R.AnyObject,
  }, { body: WebhookBody }),
  route("get", "/deploy/webhooks", "webhooks", "deploy", "inbound webhooks", { 200: R.AnyObject }),
  route("get", "/deploy/webhooks/:name", "webhooks", "deploy", "one inbound webhook", {
    200: R.AnyObject,
  }),
  route("delete", "/deploy/webhooks/:name", "webhooks", "deploy", "delete an inbound webhook", {
    200: R.AnyObject,
  }),
  route("get", "/deploy/webhooks/:name/deliveries", "webhooks", "deploy", "its delivery log", {
    200: R.AnyObject,
  }, { query: DeliveriesQuery }),
  route(
    "post",
    "/deploy/webhooks/:name/deliveries/:id/redeliver",
    "webhooks",
    "deploy",
    "process a recorded delivery again",
    { 200: R.AnyObject, 202: R.AnyObject },
  ),
  route("post", "/trigger/hooks/:name", "webhooks", null, "a provider's signed delivery", {
    200: R.AnyObject,
    202: R.AnyObject,
  }),
  route("post", "/deploy/notifications", "webhooks", "deploy", "create or update a notification", {
    200: R.AnyObject,
    201: R.AnyObject,
  }, { body: NotificationBody }),
  route("get", "/deploy/notifications", "webhooks", "deploy", "outbound notifications", {
    200: R.AnyObject,
  }),
  route("get", "/deploy/notifications/:name", "webhooks", "deploy", "one notification", {
    200: R.AnyObject,
  }),
  route("delete", "/deploy/notifications/:name", "webhooks", "deploy", "delete a notification", {
    200: R.AnyObject,
  }),
  route(
    "get",
    "/deploy/notifications/:name/deliveries",
    "webhooks",
    "deploy",
    "its messages and their states",
    { 200: R.AnyObject },
    { query: DeliveriesQuery },
  ),
  route(
    "post",
    "/trigger/notifications/drain",
    "webhooks",
    null,
    "send due notifications (QStash-signed, or a trigger key)",
    { 200: R.AnyObject },
  ),
  route(
    "post",
    "/trigger/waits/timeouts",
    "events",
    null,
    "fire due wait timeouts (QStash's delayed message, signed, or a trigger key)",
    { 200: R.AnyObject },
  ),

  ...["/ui", "/trigger/ui"].flatMap((base) =>
    UI_PAGES.map(([method, path, summary]) =>
      route(
        method,
        base + path,
        "dashboard",
        null,
        summary,
        method === "post" || path === "" ? { 200: "html", 302: "redirect", 303: "redirect" } : {
          200: "html",
        },
      )
    )
  ),
];
