/**
 * One inbound delivery, from raw bytes to a run: verify (on the raw bytes,
 * before anything parses them), parse, answer handshakes, filter, map,
 * validate against the flow's schema, then record the delivery and start
 * its run in one SQL call (`edgeflow.webhook_accept`), whose unique key makes
 * redeliveries of one id return the first run. Expected outcomes are return
 * values; the route turns them into responses.
 *
 * `decide` below yields what a verified, mapped delivery does: start a run
 * of the hook's deployment, emit the hook's event (`emit`, issue 16), or
 * both. The event is recorded by `edgeflow.webhook_accept` in the delivery's
 * transaction, under a dedupe id made of the hook and the delivery's dedupe
 * key, so the one-per-delivery guarantee covers it too; what it does to runs
 * (waits resumed, `cancel_on`, deployment triggers) is processed after
 * commit, as `POST /trigger/events` does (shared/engine/events.ts).
 */
import { inheritedTrace } from "../otel/traceparent.ts";
import type { Sql } from "../db/sql.ts";
import { mergeParameters, validateParameters } from "../api/params.ts";
import { parseJsonText } from "../http/body.ts";
import { ApiError } from "../http/api_error.ts";
import type { FieldError } from "../http/error_path.ts";
import { afterSubflowsDue } from "../engine/subflows.ts";
import { type EventDocument, processEvent } from "../engine/events.ts";
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
  | {
    kind: "started";
    delivery: string;
    delivery_id: string;
    run_id: string;
    emitted?: EmittedEvent;
  }
  | { kind: "emitted"; delivery: string; delivery_id: string; emitted: EmittedEvent }
  | {
    kind: "duplicate";
    delivery: string;
    delivery_id: string;
    run_id: string | null;
    event_id?: string;
    ignored?: string;
  }
  | { kind: "ignored"; delivery: string; delivery_id: string; reason: string }
  | { kind: "failed"; delivery: string; delivery_id: string; error: ApiError };

/** The event a delivery emitted and what it did (as `POST /trigger/events` answers). */
export interface EmittedEvent {
  event_id: string;
  runs_resumed: number;
  runs_started: number;
}

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
  outcome: "started" | "ignored" | "failed" | "emitted";
  error: Record<string, unknown> | null;
  apiError?: ApiError;
  parameters?: Record<string, unknown>;
  /** The event to record: {name, key, payload}. */
  emit?: { name: string; key: string; payload: unknown };
}

const MiB = 1024 * 1024;

function failed(apiError: ApiError): RunPlan {
  return {
    outcome: "failed",
    apiError,
    error: { code: apiError.code, message: apiError.detail, errors: apiError.errors },
  };
}

/** The hook's event rendered for this delivery, or why it cannot be. */
function renderEmit(
  emit: NonNullable<HookTarget["emit"]>,
  ctx: { body: unknown; headers: Record<string, string>; query: Record<string, string> },
): RunPlan["emit"] | ApiError {
  const mapped = applyTemplate({ key: emit.key, payload: emit.payload }, ctx, MiB);
  if (mapped.oversize) {
    return ApiError.of("validation_failed", "the event payload is larger than 1 MiB", [
      { path: "emit.payload", message: "larger than 1 MiB" },
    ]);
  }
  const missingKey = mapped.missing.find((m) => m.path === "parameters.key");
  if (missingKey) {
    return ApiError.of("validation_failed", "the event key refers to nothing in the delivery", [
      { path: "emit.key", message: `${missingKey.expression} is missing from the delivery` },
    ]);
  }
  const raw = mapped.parameters.key;
  const key = typeof raw === "string" ? raw : JSON.stringify(raw);
  if (key.length > 512) {
    return ApiError.of("validation_failed", "the event key is longer than 512 characters", [
      { path: "emit.key", message: "longer than 512 characters" },
    ]);
  }
  const payload = mapped.parameters.payload ?? null;
  if (JSON.stringify(payload).length > MiB) {
    return ApiError.of("validation_failed", "the event payload is larger than 1 MiB", [
      { path: "emit.payload", message: "larger than 1 MiB" },
    ]);
  }
  return { name: emit.name, key, payload };
}

/**
 * What a verified delivery does: ignored, failed (with the reason), a run
 * with these parameters, and/or an event. The event does not depend on the
 * run: a hook that does both records its event even when the run's mapping
 * fails (the delivery is logged failed; tried again, the event is not
 * recorded twice).
 */
function decide(
  hook: HookTarget,
  event: string | null,
  body: unknown,
  headers: Record<string, string>,
  query: Record<string, string>,
): RunPlan {
  const reason = filterOut(hook.filter, event, body);
  if (reason) return { outcome: "ignored", error: { ignored: reason } };
  let emit: RunPlan["emit"];
  if (hook.emit) {
    const rendered = renderEmit(hook.emit, { body, headers, query });
    if (rendered instanceof ApiError) return failed(rendered);
    emit = rendered;
  }
  if (!hook.start_run) return { outcome: "emitted", error: null, emit };
  return { ...planRun(hook, body, headers, query), emit };
}

/** The run a delivery starts, or why it cannot. */
function planRun(
  hook: HookTarget,
  body: unknown,
  headers: Record<string, string>,
  query: Record<string, string>,
): RunPlan {
  const target = hook.deployment;
  const fail = failed;
  if (!target.version_id) {
    return fail(ApiError.of("not_found", `deployment ${target.name} has no flow version`));
  }
  if (target.paused) return fail(ApiError.of("paused", `deployment ${target.name} is paused`));
  const mapped = applyTemplate(hook.parameters, { body, headers, query }, MiB);
  if (mapped.oversize) {
    return fail(ApiError.of("validation_failed", "the mapped parameters are larger than 1 MiB", [
      { path: "parameters", message: "larger than 1 MiB" },
    ]));
  }
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
  if (JSON.stringify(parameters).length > MiB) {
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
             ${req.redelivery?.of ?? null}::uuid,
             ${plan.emit ? JSON.stringify(plan.emit) : null}::text::jsonb) as r,
           edgeflow.subflows_due() as due`;
  const r = row.r;
  await afterSubflowsDue(sql, row.due);
  const ids = { delivery: r.delivery, delivery_id: deliveryId };
  if (r.duplicate) {
    const ignored = (r.error as { ignored?: string } | null)?.ignored;
    return {
      kind: "duplicate",
      ...ids,
      run_id: r.run_id,
      ...(r.event_id ? { event_id: r.event_id } : {}),
      ...(ignored ? { ignored } : {}),
    };
  }
  const emitted = r.event ? await eventEffects(sql, r.event, r.event_created === true) : undefined;
  if (r.outcome === "emitted") return { kind: "emitted", ...ids, emitted: emitted! };
  if (r.outcome === "started") {
    return { kind: "started", ...ids, run_id: r.run_id!, ...(emitted ? { emitted } : {}) };
  }
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

/**
 * Process a just-recorded event (its waits, cancel_on, triggers). One
 * recorded before (a failed delivery tried again) was processed then, or
 * will be by the tick: nothing is done twice.
 */
async function eventEffects(
  sql: Sql,
  event: EventDocument,
  created: boolean,
): Promise<EmittedEvent> {
  if (!created) return { event_id: event.id, runs_resumed: 0, runs_started: 0 };
  const effects = await processEvent(sql, event);
  return {
    event_id: event.id,
    runs_resumed: effects.runs_resumed,
    runs_started: effects.runs_started,
  };
}

interface AcceptResult {
  delivery: string;
  duplicate: boolean;
  outcome: "started" | "ignored" | "failed" | "emitted";
  run_id: string | null;
  error: unknown;
  event_id?: string | null;
  event?: EventDocument | null;
  event_created?: boolean | null;
}
