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

export function testApp(db: TestDatabase, config: Partial<AppConfig> = {}): TestApp {
  const app = createApp({
    sql: () => db.sql,
    config: { adminKey: ADMIN_KEY, heartbeatSeconds: 10, leaseSeconds: 30, ...config },
    log: silentLogger,
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
      return { status: res.status, body: parsed, headers: res.headers };
    },
  };
}
