/**
 * The one error type of the API and its closed set of codes.
 *
 * Kept apart from the renderer (`problem.ts`) and the classifier
 * (`error_map.ts`) so both can import it without an import cycle.
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { FieldError } from "./error_path.ts";

/** Default HTTP status and human title of every error code. */
export const ERROR_CODES = {
  validation_failed: { status: 422, title: "Validation failed" },
  depth_exceeded: { status: 422, title: "Runs nested too deep" },
  bad_request: { status: 400, title: "Bad request" },
  invalid_json: { status: 400, title: "Body is not valid JSON" },
  payload_too_large: { status: 413, title: "Payload too large" },
  unauthorized: { status: 401, title: "Unauthorized" },
  forbidden: { status: 403, title: "Forbidden" },
  not_found: { status: 404, title: "Not found" },
  conflict: { status: 409, title: "Conflict" },
  stale_lease: { status: 409, title: "Stale lease" },
  idempotency_conflict: { status: 409, title: "Idempotency key reused with a different request" },
  worker_name_taken: { status: 409, title: "Worker name taken" },
  paused: { status: 409, title: "Paused" },
  archived: { status: 409, title: "Archived" },
  rate_limited: { status: 429, title: "Too many requests" },
  invalid_signature: { status: 401, title: "Invalid signature" },
  unavailable: { status: 503, title: "Service unavailable" },
  internal: { status: 500, title: "Internal server error" },
} as const satisfies Record<string, { status: number; title: string }>;

/** The closed set of machine-readable error codes (`code` in problem documents). */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Extra response details for an `ApiError`. */
export interface ApiErrorOptions {
  /** Seconds for `Retry-After` (429 and 503). */
  retryAfter?: number;
  /** Further response headers, e.g. `WWW-Authenticate`. */
  headers?: Record<string, string>;
  /** The underlying error, kept for server logs only; never rendered. */
  cause?: unknown;
}

/** The one error type of the API: thrown anywhere, rendered by `onError`. */
export class ApiError extends Error {
  /** Field-level details; rendered as `errors`. */
  readonly errors: FieldError[];
  /** Response headers to add (Retry-After, WWW-Authenticate, …). */
  readonly headers: Record<string, string>;

  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    readonly detail: string,
    errors: FieldError[] = [],
    options: ApiErrorOptions = {},
  ) {
    super(detail, { cause: options.cause });
    this.name = "ApiError";
    this.errors = errors;
    this.headers = { ...options.headers };
    if (options.retryAfter !== undefined) {
      this.headers["Retry-After"] = String(Math.max(0, Math.ceil(options.retryAfter)));
    }
  }

  /** An `ApiError` with the code's default status: `throw ApiError.of("not_found", "no flow etl")`. */
  static of(
    code: ErrorCode,
    detail: string,
    errors: FieldError[] = [],
    options: ApiErrorOptions = {},
  ): ApiError {
    return new ApiError(ERROR_CODES[code].status, code, detail, errors, options);
  }
}
