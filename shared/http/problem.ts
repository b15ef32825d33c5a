/**
 * One error type, one renderer.
 *
 * Every failure a client can see is an `ApiError` with a code from a closed
 * set; `onError` renders it as an RFC 9457 problem document
 * (`application/problem+json`). Errors that are not `ApiError`s (zod, the
 * database, the network, bugs) are classified by `toApiError` in
 * `error_map.ts`, so bad input never turns into a 500 and a 500 never
 * carries internals.
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import type { FieldError } from "./error_path.ts";
import { ApiError, ERROR_CODES, type ErrorCode } from "./api_error.ts";
import { toApiError } from "./error_map.ts";
import { consoleLogger, type Logger } from "./logger.ts";

export { ApiError, type ApiErrorOptions, ERROR_CODES, type ErrorCode } from "./api_error.ts";
export type { FieldError } from "./error_path.ts";

/** An RFC 9457 problem document as edgeflow renders it. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors: FieldError[];
  /** How many further errors were found but not listed (only when some were left out). */
  errors_omitted?: number;
}

/**
 * At most this many `errors` are listed, each path and message cut to
 * `MAX_ERROR_TEXT` characters: a body with 90,000 unknown fields once
 * produced a 4 MB problem document. The first errors say what to fix.
 */
export const MAX_LISTED_ERRORS = 50;
const MAX_ERROR_TEXT = 500;

/** Base of the `type` URI; `<base><code>` names the problem kind. */
export const PROBLEM_TYPE_BASE = "https://edgeflow.dev/problems/";

/** The problem document for an `ApiError` (pure; useful outside Hono). */
export function problemDocument(err: ApiError): ProblemDocument {
  const listed = err.errors.slice(0, MAX_LISTED_ERRORS).map((e) => ({
    path: clip(e.path),
    message: clip(e.message),
  }));
  const omitted = err.errors.length - listed.length;
  return {
    type: PROBLEM_TYPE_BASE + err.code,
    title: ERROR_CODES[err.code].title,
    status: err.status,
    detail: clip(err.detail) + (omitted > 0 ? ` (${omitted} more errors not listed)` : ""),
    code: err.code,
    errors: listed,
    ...(omitted > 0 ? { errors_omitted: omitted } : {}),
  };
}

function clip(text: string): string {
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text;
}

/**
 * Renders any thrown value as a problem response. Uses `c.body` so headers
 * other middleware already set (CORS, request id) survive the error.
 */
export function problem(c: Context, err: unknown): Response {
  const apiError = toApiError(err);
  for (const [name, value] of Object.entries(apiError.headers)) c.header(name, value);
  c.header("Content-Type", "application/problem+json");
  return c.body(JSON.stringify(problemDocument(apiError)), apiError.status);
}

/** Options of `errorHandler`. */
export interface ErrorHandlerOptions {
  /** Where 5xx causes are logged (default: JSON lines on the console). */
  log?: Logger;
}

/**
 * `app.onError(errorHandler({ log }))`: renders every error as a problem and
 * logs the cause of 5xx responses server-side (4xx are the client's business
 * and would only add noise). Request headers are never logged: they hold keys.
 */
export function errorHandler(options: ErrorHandlerOptions = {}): ErrorHandler {
  const log = options.log ?? consoleLogger;
  return (err, c) => {
    const apiError = toApiError(err);
    if (apiError.status >= 500) {
      const cause = apiError === err ? apiError.cause : err;
      log(apiError.status === 503 ? "warn" : "error", "request failed", {
        method: c.req.method,
        path: c.req.path,
        code: apiError.code,
        error: describeCause(cause),
      });
    }
    return problem(c, apiError);
  };
}

/** `app.notFound(notFoundHandler)`: unknown routes get a 404 problem, not Hono's text. */
export const notFoundHandler: NotFoundHandler = (c) =>
  problem(c, ApiError.of("not_found", `no route for ${c.req.method} ${c.req.path}`));

/** A log-friendly summary of an error (name, message, SQLSTATE, stack). */
function describeCause(cause: unknown): Record<string, unknown> | string {
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause as { code?: unknown }).code;
  return { name: cause.name, message: cause.message, code, stack: cause.stack };
}
