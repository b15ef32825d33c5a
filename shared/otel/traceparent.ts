/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent`
 * and `tracestate` headers a trigger receives, and the trace context a run
 * keeps (`runs.trace`, read by `edgeflow.trace_context` in SQL).
 *
 * A run's trace: the caller's trace id when it sent a valid traceparent
 * (our trigger span is then a child of the caller's span), else a fresh one.
 * Either way the trigger span gets a new span id, the parent of every task
 * attempt's span.
 */

/** What a run stores in `runs.trace` (lower-case hex, as on the wire). */
export interface RunTrace {
  trace_id: string;
  /** The trigger's span: parent of the run's task spans. */
  span_id: string;
  /** The caller's span, when a traceparent came with the trigger. */
  parent_id?: string;
  /** Trace flags, two hex digits ("01": sampled). */
  flags: string;
  /** The caller's tracestate, passed on unchanged (at most 512 characters). */
  tracestate?: string;
}

/** A parsed traceparent. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  flags: string;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
/** The spec lets a receiver drop a tracestate over 512 characters. */
const MAX_TRACESTATE = 512;

/**
 * The traceparent in `value`, or null when absent or invalid (the spec: an
 * invalid header is ignored and a new trace started, never an error).
 * Version 00 allows nothing after the flags; a later version may add fields.
 */
export function parseTraceparent(value: string | null | undefined): TraceParent | null {
  const m = value ? TRACEPARENT.exec(value.trim()) : null;
  if (!m) return null;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === "ff" || (version === "00" && rest)) return null;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId, spanId, flags };
}

/** `00-<trace id>-<span id>-<flags>`. */
export function formatTraceparent(traceId: string, spanId: string, flags = "01"): string {
  return `00-${traceId}-${spanId}-${flags}`;
}

/** `bytes` random bytes as lower-case hex (16: a trace id, 8: a span id). */
export function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** The trace context a run starts with, from a trigger's headers (absent: a fresh trace). */
export function runTraceFrom(
  traceparent: string | null | undefined,
  tracestate: string | null | undefined,
): RunTrace {
  const parent = parseTraceparent(traceparent);
  if (!parent) return { trace_id: randomHex(16), span_id: randomHex(8), flags: "01" };
  const state = tracestate?.trim();
  return {
    trace_id: parent.traceId,
    span_id: randomHex(8),
    parent_id: parent.spanId,
    flags: parent.flags,
    ...(state && state.length <= MAX_TRACESTATE ? { tracestate: state } : {}),
  };
}

/**
 * The trace context of a run started where no trigger span is exported (an
 * inbound webhook): the caller's span itself is the parent of the run's task
 * spans. Undefined without a valid traceparent (the run id is then its trace).
 */
export function inheritedTrace(
  traceparent: string | null | undefined,
  tracestate: string | null | undefined,
): RunTrace | undefined {
  const parent = parseTraceparent(traceparent);
  if (!parent) return undefined;
  const state = tracestate?.trim();
  return {
    trace_id: parent.traceId,
    span_id: parent.spanId,
    flags: parent.flags,
    ...(state && state.length <= MAX_TRACESTATE ? { tracestate: state } : {}),
  };
}
