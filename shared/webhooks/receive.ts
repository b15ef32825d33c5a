/**
 * One inbound delivery, from raw bytes to a run: verify (on the raw bytes,
 * before anything parses them), parse, answer handshakes, filter, map,
 * validate against the flow's schema, then record the delivery and start
 * its run in one SQL call (`edgeflow.webhook_accept`), whose unique key makes
 * redeliveries of one id return the first run. Expected outcomes are return
 * values; the route turns them into responses.
 *
 * Extension point (events): `decide` below yields what a verified, mapped
 * delivery does. Today that is always "start a run of the hook's
 * deployment"; a hook that emits an event instead would add an action there
 * and a branch in `edgeflow.webhook_accept`, keeping verification, the
 * delivery log and the one-per-delivery-id guarantee as they are.
 */
import { inheritedTrace } from "../otel/traceparent.ts";
import type { Sql } from "../db/sql.ts";
import { mergeParameters, validateParameters } from "../api/params.ts";
import { parseJsonText } from "../http/body.ts";
import { ApiError } from "../http/api_error.ts";
import type { FieldError } from "../http/error_path.ts";
import { afterSubflowsDue } from "../engine/subflows.ts";
import { describeDelivery, type Refusal, verifyDelivery } from "./providers.ts";
import { filterOut } from "./filter.ts";
import { applyTemplate } from "./template.ts";
import { countRejected, type HookTarget } from "./store.ts";

export interface DeliveryRequest {
  headers: Headers;
  body: Uint8Array<ArrayBuffer>;
  query: Record<string, string>;
  now: Date;
  /** Redelivery from the log: already verified when it first came; a fresh delivery id. */
  redelivery?: { of: string; deliveryId: string };
}

export type DeliveryOutcome =
  | { kind: "refused"; reason: Refusal }
  | { kind: "reply"; body: Record<string, unknown> }
  | { kind: "started"; delivery: string; delivery_id: string; run_id: string }
  | {
    kind: "duplicate";
    delivery: string;
    delivery_id: string;
    run_id: string | null;
    ignored?: string;
  }
  | { kind: "ignored"; delivery: string; delivery_id: string; reason: string }
  | { kind: "failed"; delivery: string; delivery_id: string; error: ApiError };

/** Headers never stored with a payload: they carry credentials. */
const SECRET_HEADERS = ["authorization", "cookie", "x-webhook-token", "x-gitlab-token"];
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The body as the mapping sees it: JSON, or a form (Slack commands) with a JSON `payload` opened. */
function parseBody(headers: Headers, bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw ApiError.of("invalid_json", "the body is not valid UTF-8");
  }
  // Kept as text for redelivery: Postgres text cannot hold U+0000.
  if (text.includes("\u0000")) throw ApiError.of("invalid_json", "the body holds a NUL character");
  if ((headers.get("content-type") ?? "").startsWith("application/x-www-form-urlencoded")) {
    const form: Record<string, unknown> = Object.fromEntries(new URLSearchParams(text));
    if (typeof form.payload === "string") {
      try {
        form.payload = parseJsonText(form.payload);
      } catch { /* left as text */ }
    }
    return form;
  }
  return text.trim() === "" ? {} : parseJsonText(text);
}

interface RunPlan {
  outcome: "started" | "ignored" | "failed";
  error: Record<string, unknown> | null;
  apiError?: ApiError;
  parameters?: Record<string, unknown>;
}

/** What a verified delivery does: ignored, failed (with the reason) or a run with these parameters. */
function decide(
  hook: HookTarget,
  event: string | null,
  body: unknown,
  headers: Record<string, string>,
  query: Record<string, string>,
): RunPlan {
  const reason = filterOut(hook.filter, event, body);
  if (reason) return { outcome: "ignored", error: { ignored: reason } };
  const target = hook.deployment;
  const fail = (apiError: ApiError): RunPlan => ({
    outcome: "failed",
    apiError,
    error: { code: apiError.code, message: apiError.detail, errors: apiError.errors },
  });
  if (!target.version_id) {
    return fail(ApiError.of("not_found", `deployment ${target.name} has no flow version`));
  }
  if (target.paused) return fail(ApiError.of("paused", `deployment ${target.name} is paused`));
  const mapped = applyTemplate(hook.parameters, { body, headers, query });
  const parameters = mergeParameters(target.parameters, mapped.parameters);
  const errors: FieldError[] = validateParameters(target.schema, parameters);
  if (errors.length > 0) {
    for (const m of mapped.missing) {
      errors.push({ path: m.path, message: `${m.expression} is missing from the delivery` });
    }
    return fail(
      ApiError.of(
        "validation_failed",
        "the mapped parameters do not match the flow's schema",
        errors,
      ),
    );
  }
  if (JSON.stringify(parameters).length > 1024 * 1024) {
    return fail(ApiError.of("validation_failed", "the mapped parameters are larger than 1 MiB", [
      { path: "parameters", message: "larger than 1 MiB" },
    ]));
  }
  return { outcome: "started", error: null, parameters };
}

/** Receive one delivery for `hook` (already known to exist and be active). */
export async function receiveDelivery(
  sql: Sql,
  hook: HookTarget,
  req: DeliveryRequest,
): Promise<DeliveryOutcome> {
  const incoming = { headers: req.headers, body: req.body, now: req.now.getTime() };
  if (!req.redelivery) {
    const refusal = await verifyDelivery(hook.provider, hook.secrets, hook.options, incoming);
    if (refusal) {
      await countRejected(sql, hook.id);
      return { kind: "refused", reason: refusal };
    }
  }
  const body = parseBody(req.headers, req.body);
  const facts = await describeDelivery(hook.provider, hook.options, incoming, body);
  if (facts.reply) return { kind: "reply", body: facts.reply };
  const deliveryId = req.redelivery?.deliveryId ?? facts.deliveryId;
  const key = req.redelivery?.deliveryId ?? facts.key;
  const headers: Record<string, string> = {};
  const hidden = new Set([...SECRET_HEADERS, hook.options.token_header ?? ""]);
  req.headers.forEach((v, k) => {
    if (!hidden.has(k)) headers[k] = v;
  });
  const plan = decide(hook, facts.event, body, headers, req.query);
  const payload = { headers, body: new TextDecoder().decode(req.body), query: req.query };
  const run = plan.parameters && {
    flow_version_id: hook.deployment.version_id,
    parameters: plan.parameters,
    options: {
      deployment_id: hook.deployment.id,
      pool: hook.deployment.pool,
      queue: hook.deployment.queue,
      tags: hook.deployment.tags,
      // The sender's W3C trace context, if any, continues into the run (issue 15).
      trace: inheritedTrace(req.headers.get("traceparent"), req.headers.get("tracestate")),
    },
  };
  const [row] = await sql<{ r: AcceptResult; due: boolean }>`
    select edgeflow.webhook_accept(${hook.id}::uuid, ${deliveryId}, ${key}, ${facts.event},
             ${plan.outcome}, ${plan.error ? JSON.stringify(plan.error) : null}::text::jsonb,
             ${JSON.stringify(payload)}::text::jsonb, ${
    run ? JSON.stringify(run) : null
  }::text::jsonb,
             ${req.redelivery?.of ?? null}::uuid) as r,
           edgeflow.subflows_due() as due`;
  const r = row.r;
  await afterSubflowsDue(sql, row.due);
  const ids = { delivery: r.delivery, delivery_id: deliveryId };
  if (r.duplicate) {
    const ignored = (r.error as { ignored?: string } | null)?.ignored;
    return { kind: "duplicate", ...ids, run_id: r.run_id, ...(ignored ? { ignored } : {}) };
  }
  if (r.outcome === "started") return { kind: "started", ...ids, run_id: r.run_id! };
  if (r.outcome === "ignored") {
    return { kind: "ignored", ...ids, reason: plan.error!.ignored as string };
  }
  return {
    kind: "failed",
    ...ids,
    error: plan.apiError ??
      ApiError.of("not_found", `the run could not start: ${(r.error as { code?: string })?.code}`),
  };
}

interface AcceptResult {
  delivery: string;
  duplicate: boolean;
  outcome: "started" | "ignored" | "failed";
  run_id: string | null;
  error: unknown;
}
