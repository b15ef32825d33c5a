/**
 * Reading request bodies: once, bounded, raw first.
 *
 * The raw bytes are read a single time per request and cached, because
 * signature checks (QStash, webhooks) must see exactly what was sent before
 * anything parses it ("authenticate before parsing"). The 1 MiB limit is
 * enforced twice: an honest `Content-Length` is refused without reading, and
 * the bytes are counted while streaming, because chunked bodies have no
 * length and a lying header must not let 2 MiB through.
 *
 * Empty bodies: `readJson` returns `{}` for a body that is empty or only
 * whitespace. Every POST in api.md takes an object, and most (trigger, ad hoc
 * runs, cancel, tick) have only optional fields, so `curl -X POST` with no
 * `-d` should work; required fields are then reported by the schema as 422
 * with their paths, which says more than "invalid JSON" would.
 *
 * Content-Type is not checked: webhook senders and `curl -d` send all kinds;
 * the bytes must simply be JSON.
 */
import type { Context, HonoRequest, MiddlewareHandler } from "hono";
import type { z } from "zod";
import { ApiError } from "./api_error.ts";
import { type FieldError, formatPath, zodIssuesToErrors } from "./error_path.ts";

/** Largest accepted request body: 1 MiB (api.md). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Deepest accepted JSON nesting. V8 parses a million levels happily, but any
 * recursive walk afterwards (canonical JSON, schema validation, jsonb) would
 * overflow the stack and turn bad input into a 500; real definitions stay
 * under ten levels.
 */
export const MAX_JSON_DEPTH = 64;

type BodyPromises = { arrayBuffer?: Promise<ArrayBuffer> };

const cache = new WeakMap<HonoRequest, Promise<Uint8Array<ArrayBuffer>>>();
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The raw body bytes (at most `maxBytes`; 413 `payload_too_large` beyond), read once per request. */
export function readBody(
  c: Context,
  maxBytes = MAX_BODY_BYTES,
): Promise<Uint8Array<ArrayBuffer>> {
  let bytes = cache.get(c.req);
  if (!bytes) {
    const raw = c.req.raw;
    bytes = readLimited(raw, maxBytes).then((read) => {
      // Later readers (c.req.json(), c.req.text(), other middleware) get the
      // bytes from Hono's own body cache, which its readers consult before
      // the request. Replacing `c.req.raw` by a buffered copy, as this did
      // before, cost more: with the database stubbed out, a `POST /heartbeat`
      // took 104–166 µs of main-thread CPU that way against 84–120 µs this
      // way (3 interleaved runs of 3 × 5,000 requests).
      // (Hono types the cache's entries as values; at run time they are promises.)
      if (raw.body) (c.req.bodyCache as BodyPromises).arrayBuffer = Promise.resolve(read.buffer);
      return read;
    });
    cache.set(c.req, bytes);
  }
  return bytes;
}

/**
 * The abort signal of the request the runtime handed us: it aborts when the
 * client disconnects (Deno's serve, Supabase; workerd with the
 * `enable_request_signal` flag). Read only where needed: Deno prints a
 * one-time notice about its legacy abort behaviour on first access.
 */
export function clientSignal(c: Context): AbortSignal {
  return originalRequest(c).signal;
}

/** The request the runtime handed us (the body reader leaves `c.req.raw` in place). */
export function originalRequest(c: Context): Request {
  return c.req.raw;
}

/** The raw body as text, exactly as sent (400 `invalid_json` if it is not UTF-8). */
export async function readText(c: Context): Promise<string> {
  const bytes = await readBody(c);
  try {
    return utf8.decode(bytes);
  } catch {
    throw ApiError.of("invalid_json", "the body is not valid UTF-8");
  }
}

/**
 * The body parsed as JSON: `{}` when empty, 400 `invalid_json` when not JSON
 * (or nested deeper than `MAX_JSON_DEPTH`), 413 when too large, 422 when it
 * holds values no part of edgeflow can keep (see `parseJsonText`).
 */
export async function readJson(c: Context): Promise<unknown> {
  const text = await readText(c);
  if (text.trim() === "") return {};
  return parseJsonText(text);
}

/**
 * JSON text parsed the way every body is: depth-limited (400), and refused
 * with 422 and the paths when it holds a number JSON.parse turns into
 * ±Infinity (`1e309`: stored, it would silently become `null`) or a string or
 * key with a NUL character (Postgres `text` and `jsonb` cannot hold U+0000,
 * and its error text must not reach the client). Used for bodies and for the
 * JSON that arrives in query strings (GraphQL `variables`).
 */
export function parseJsonText(text: string, prefix = ""): unknown {
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    throw ApiError.of("invalid_json", `the body is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw ApiError.of("invalid_json", `the body is not valid JSON: ${(err as Error).message}`);
  }
  const errors = unstorableValues(value, prefix);
  if (errors.length > 0) {
    throw ApiError.of("validation_failed", "the body holds values that cannot be stored", errors);
  }
  return value;
}

/**
 * A lone UTF-16 surrogate (`"\ud800"` in JSON) is no character: Postgres
 * refused it in jsonb (a 422 that named no field) and stored it as U+FFFD in
 * text (two different event ids became one). Found by a hostile-input probe.
 */
const LONE_SURROGATE =
  "must not contain a lone UTF-16 surrogate (\\ud800-\\udfff without its pair)";
const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
function wellFormed(text: string): boolean {
  const native = (text as { isWellFormed?: () => boolean }).isWellFormed;
  return native ? native.call(text) : !LONE.test(text);
}

/** Why Postgres cannot store `text` (a NUL, a lone surrogate), or null. */
function unstorableText(text: string): string | null {
  if (text.includes("\u0000")) return "must not contain NUL (\\u0000) characters";
  return wellFormed(text) ? null : LONE_SURROGATE;
}

/** Most unstorable values reported by path; the rest are only counted in the detail. */
const MAX_VALUE_ERRORS = 50;

/**
 * Non-finite numbers, NUL characters and lone surrogates in `value`, with their paths. An
 * explicit stack, not recursion: the walk must not be what overflows.
 */
export function unstorableValues(value: unknown, prefix = ""): FieldError[] {
  const errors: FieldError[] = [];
  const stack: [unknown, PropertyKey[]][] = [[value, []]];
  while (stack.length > 0 && errors.length < MAX_VALUE_ERRORS) {
    const [node, segments] = stack.pop()!;
    if (typeof node === "number") {
      if (!Number.isFinite(node)) {
        errors.push({ path: formatPath(segments, prefix), message: "number is out of range" });
      }
    } else if (typeof node === "string") {
      const message = unstorableText(node);
      if (message) errors.push({ path: formatPath(segments, prefix), message });
    } else if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], [...segments, i]]);
    } else if (node !== null && typeof node === "object") {
      const entries = Object.entries(node);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i];
        const message = unstorableText(key);
        if (message) {
          errors.push({ path: formatPath([...segments, key], prefix), message: `keys ${message}` });
        }
        stack.push([child, [...segments, key]]);
      }
    }
  }
  return errors;
}

/** The body parsed as JSON and validated by `schema`: 422 `validation_failed` with paths on failure. */
export async function readJsonAs<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const result = schema.safeParse(await readJson(c));
  if (!result.success) {
    throw ApiError.of(
      "validation_failed",
      "the request body is invalid",
      zodIssuesToErrors(result.error.issues),
    );
  }
  return result.data;
}

/**
 * Middleware that reads (and so size-checks) the body up front, so an
 * oversized request is refused with 413 before authentication or routing
 * work. Requests without a body pass untouched.
 */
export function bodyLimit(maxBytes = MAX_BODY_BYTES): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.raw.body) await readBody(c, maxBytes);
    await next();
  };
}

/** Reads a request body, refusing more than `maxBytes` by header or by count. */
async function readLimited(
  request: Request,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(request.headers.get("content-length") ?? "");
  if (Number.isFinite(declared) && declared > maxBytes) {
    await request.body?.cancel().catch(() => {});
    throw tooLarge(maxBytes);
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

function tooLarge(maxBytes: number): ApiError {
  return ApiError.of("payload_too_large", `the body is larger than ${maxBytes} bytes`);
}

/** Maximum nesting of `[`/`{` outside strings; one pass, no recursion. */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) max = Math.max(max, ++depth);
    else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return max;
}

/**
 * Middleware: a path or a query parameter that holds a NUL character (`%00`)
 * or a lone surrogate names nothing edgeflow can store. Found by a
 * hostile-input probe: such values reached Postgres, which refused them with
 * a 422 that named no field. A path with one is a 404 (no flow, deployment,
 * pool… can have that name, as a malformed id is a 404), a query parameter a
 * 422 at its name.
 */
export function urlGuard(): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      path = url.pathname; // not percent-encoded UTF-8: the router refuses it as before
    }
    // The raw `%00` too: the router decodes each run of escapes on its own, so
    // `a%00b%FF` (not UTF-8 as a whole, left undecoded above) still reached a
    // handler with a NUL in its parameter.
    if (path.includes("\u0000") || /%00/.test(url.pathname) || !wellFormed(path)) {
      throw ApiError.of("not_found", "no such resource: the path holds a NUL or a lone surrogate");
    }
    const errors: FieldError[] = [];
    for (const [name, value] of url.searchParams) {
      const message = unstorableText(value);
      if (message) errors.push({ path: name, message });
    }
    if (errors.length > 0) {
      throw ApiError.of(
        "validation_failed",
        "the query string holds values that cannot be stored",
        errors,
      );
    }
    await next();
  };
}
