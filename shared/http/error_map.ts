/**
 * Classifies anything that was thrown into an `ApiError`.
 *
 * The rule from quality.md is "bad input never yields 500": a value Postgres
 * rejected (bad uuid, too long, duplicate key) is the client's 4xx even when
 * no schema caught it first, and a database that cannot be reached is a 503
 * the client may retry. Only what is left is a 500, rendered with a fixed
 * sentence so no SQL, host name or stack ever reaches the client.
 */
import { z } from "zod";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ApiError, ERROR_CODES, type ErrorCode } from "./api_error.ts";
import { type FieldError, zodIssuesToErrors } from "./error_path.ts";

/** Seconds a client should wait before retrying a 503. */
const RETRY_AFTER_UNAVAILABLE = 1;

/** Socket-level codes (Node/Deno `code`, postgres.js `code`) that mean "database unreachable". */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "DATABASE_UNAVAILABLE",
]);

/** Deno's native error class names for the same socket failures, plus AbortSignal.timeout. */
const NETWORK_NAMES = new Set([
  "ConnectionRefused",
  "ConnectionReset",
  "ConnectionAborted",
  "NotConnected",
  "BrokenPipe",
  "TimedOut",
  "NetworkUnreachable",
  "TimeoutError",
]);

/**
 * Last resort for drivers that only say it in words (Workers: "Network
 * connection lost."; PGlite: "PGlite is closed"). Phrases, not the bare word
 * "connection", so a TypeError in our own code is not disguised as a 503.
 */
const NETWORK_MESSAGE =
  /connection (refused|reset|closed|lost|terminated|ended|timed out)|connect ECONNREFUSED|(could not|failed to) connect|network (connection lost|error)|pglite is closed/i;

/** Client-facing words for the data exceptions (SQLSTATE class 22) input can cause. */
const DATA_EXCEPTIONS: Record<string, string> = {
  "22001": "a text value is too long",
  "22003": "a number is out of range",
  "22007": "a date or time has the wrong form",
  "22008": "a date or time is out of range",
  "22021": "a text value contains a character that cannot be stored (NUL)",
  "22P05": "a text value contains a character that cannot be stored (NUL)",
  "22P02": "a value has the wrong form",
  "22023": "a value is not allowed",
  "22004": "a required value is null",
  "2200N": "a value is too large or too deeply nested",
};

/**
 * Constraints whose violation means one request field names nothing: the
 * field is reported, not the constraint (e.g. a heartbeat for an unknown pool).
 */
const CONSTRAINT_FIELDS: Record<string, FieldError> = {
  workers_pool_fkey: { path: "pool", message: "no pool of that name exists" },
};

/** The violated constraint's name (postgres.js: `constraint_name`, PGlite: `constraint`). */
function constraintOf(err: Error): string {
  const e = err as { constraint_name?: unknown; constraint?: unknown };
  const name = e.constraint_name ?? e.constraint;
  return typeof name === "string" ? name : /constraint "([^"]+)"/.exec(err.message)?.[1] ?? "";
}

/** A Postgres SQLSTATE: five digits or upper-case letters. */
const SQLSTATE = /^[0-9A-Z]{5}$/;

/** Turns any thrown value into the `ApiError` the client will see. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof z.core.$ZodError) {
    return ApiError.of(
      "validation_failed",
      "the request is invalid",
      zodIssuesToErrors(err.issues),
    );
  }
  if (err instanceof HTTPException) return fromHttpException(err);
  if (err instanceof SyntaxError && /JSON/.test(err.message)) {
    return ApiError.of("invalid_json", "the body is not valid JSON");
  }
  // Drivers wrap errors (postgres.js, fetch, our own retries): look down the cause chain.
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const mapped = fromDriverError(current);
    if (mapped) return mapped;
    current = current.cause;
  }
  return ApiError.of("internal", "an unexpected error occurred", [], { cause: err });
}

/** Maps one error (not its causes) by network code, SQLSTATE or wording; undefined when unknown. */
function fromDriverError(err: Error): ApiError | undefined {
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && NETWORK_CODES.has(code)) return unavailable(err);
  if (NETWORK_NAMES.has(err.name)) return unavailable(err);
  if (typeof code === "string" && SQLSTATE.test(code)) return fromSqlState(code, err);
  if (NETWORK_MESSAGE.test(err.message)) return unavailable(err);
  return undefined;
}

/**
 * Postgres error classes: 08 connection, 53 resources, 57 operator
 * intervention and serialization failures are transient (503); 22 data
 * exceptions, 23 integrity violations and 54 limits are caused by the input.
 * Everything else (42 syntax, XX internal, …) is our bug and stays a 500.
 */
function fromSqlState(code: string, err: Error): ApiError | undefined {
  const cls = code.slice(0, 2);
  if (cls === "08" || cls === "53" || cls === "57") return unavailable(err);
  if (code === "40001" || code === "40P01" || code === "55P03" || code === "25006") {
    return unavailable(err);
  }
  if (cls === "22") {
    // A value the edge schemas should have refused. The database's own words
    // ("invalid byte sequence for encoding…", the value, the type) stay in the
    // server log: the client gets what kind of value was wrong.
    const message = DATA_EXCEPTIONS[code] ?? "a value has the wrong type or form";
    return ApiError.of("validation_failed", `invalid value: ${message}`, [{ path: "", message }], {
      cause: err,
    });
  }
  if (code === "23505" || code === "23P01") {
    return ApiError.of("conflict", "a resource with the same unique key already exists", [], {
      cause: err,
    });
  }
  if (code === "23503") {
    const field = CONSTRAINT_FIELDS[constraintOf(err)];
    if (field) return ApiError.of("validation_failed", field.message, [field], { cause: err });
    // The same SQLSTATE covers "refers to a missing row" (insert) and "still referenced" (delete).
    return /update or delete/i.test(err.message)
      ? ApiError.of("conflict", "the resource is still referenced by others", [], { cause: err })
      : ApiError.of(
        "validation_failed",
        "the request refers to something that does not exist",
        [],
        {
          cause: err,
        },
      );
  }
  if (code === "23001") {
    return ApiError.of("conflict", "the resource is still referenced by others", [], {
      cause: err,
    });
  }
  if (cls === "23") {
    return ApiError.of("validation_failed", "a value violates a constraint", [], { cause: err });
  }
  if (cls === "54") {
    return ApiError.of("validation_failed", "a value is too large or too deeply nested", [], {
      cause: err,
    });
  }
  return undefined;
}

/** The 503 for a database or network that cannot be reached right now. */
function unavailable(cause: Error): ApiError {
  return ApiError.of("unavailable", "the database is unavailable; retry shortly", [], {
    retryAfter: RETRY_AFTER_UNAVAILABLE,
    cause,
  });
}

/** Hono's own exceptions (from its middleware) mapped onto our codes by status. */
function fromHttpException(err: HTTPException): ApiError {
  const byStatus: Partial<Record<number, ErrorCode>> = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_failed",
    429: "rate_limited",
    503: "unavailable",
  };
  const code = byStatus[err.status] ?? (err.status < 500 ? "bad_request" : "internal");
  const status = (code === "internal" ? 500 : err.status) as ContentfulStatusCode;
  const detail = code === "internal" ? "an unexpected error occurred" : err.message ||
    ERROR_CODES[code].title;
  return new ApiError(status, code, detail, [], { cause: err });
}
