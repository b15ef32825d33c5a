// deno-lint-ignore-file no-explicit-any
/** The real app over a test database, driven through `app.request`. */
import { createApp } from "../../shared/app/app.ts";
import type { AppConfig } from "../../shared/app/deps.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import type { TestDatabase } from "./db.ts";

export const ADMIN_KEY = "test-admin-key-0123456789";

export interface TestApp {
  app: ReturnType<typeof createApp>;
  /** JSON request with the admin key unless `key` says otherwise (null: no key). */
  call(
    method: string,
    path: string,
    body?: unknown,
    opts?: { key?: string | null; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Headers }>;
}

/**
 * With `EDGEFLOW_RECORD_RESPONSES=<file>`, every response of `call` is
 * appended there as a JSON line: tests/ops/openapi_test.ts runs the contract
 * tests so and validates what they received against the OpenAPI document.
 */
const RECORD_TO = Deno.env.get("EDGEFLOW_RECORD_RESPONSES");
function record(method: string, path: string, res: Response, body: unknown): void {
  if (!RECORD_TO) return;
  const line = JSON.stringify({
    method,
    path: path.split("?")[0],
    status: res.status,
    type: res.headers.get("content-type"),
    body,
  });
  Deno.writeTextFileSync(RECORD_TO, line + "\n", { append: true });
}

/** `now`: the app's clock (key and session expiry, key creation), for tests that move time. */
export function testApp(
  db: TestDatabase,
  config: Partial<AppConfig> = {},
  options: { now?: () => Date } = {},
): TestApp {
  const app = createApp({
    sql: () => db.sql,
    config: { adminKey: ADMIN_KEY, heartbeatSeconds: 10, leaseSeconds: 30, ...config },
    log: silentLogger,
    now: options.now,
  });
  return {
    app,
    async call(method, path, body, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      const key = opts.key === undefined ? ADMIN_KEY : opts.key;
      if (key !== null) headers.authorization = `Bearer ${key}`;
      let payload: BodyInit | undefined;
      if (body !== undefined) {
        payload = typeof body === "string" ? body : JSON.stringify(body);
        headers["content-type"] ??= "application/json";
      }
      const res = await app.request(path, { method, headers, body: payload });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch { /* not JSON */ }
      record(method, path, res, parsed);
      return { status: res.status, body: parsed, headers: res.headers };
    },
  };
}

/**
 * The `cookie` header of a dashboard session signed in with `key` through the
 * sign-in form; a key the form refuses gives a cookie naming no session.
 */
export async function sessionCookie(
  app: { request(path: string, init: RequestInit): Response | Promise<Response> },
  key: string,
): Promise<string> {
  const res = await app.request("/ui/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost" },
    body: new URLSearchParams({ key, next: "/ui/runs" }).toString(),
    redirect: "manual",
  });
  await res.body?.cancel();
  return res.status === 303
    ? (res.headers.get("set-cookie") ?? "").split(";")[0]
    : `edgeflow_session=efs_${"0".repeat(64)}`;
}
