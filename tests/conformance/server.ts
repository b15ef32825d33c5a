/**
 * A served edgeflow for SDK tests: the real app on a real port, with a log
 * of every worker-protocol exchange and faults injected at the HTTP
 * boundary (a `503` with `Retry-After` is exactly what the app itself
 * answers when its database is frozen, shared/db/sql.ts).
 *
 * As a module: `serveEdgeflow(sql, config)` (the conformance suite).
 * As a program (the Python SDK's unit tests): serves a fresh database —
 * PGlite, or a Postgres clone when DATABASE_URL is set — ticks it every
 * 250 ms, prints one line `{"url","key"}`, and exits when stdin closes or on
 * SIGTERM, so a test process that dies takes its server with it.
 *
 *   deno run -A tests/conformance/server.ts [--heartbeat-seconds 1] [--lease-seconds 2]
 */
import { createApp } from "../../shared/app/app.ts";
import type { AppConfig } from "../../shared/app/deps.ts";
import type { Sql } from "../../shared/db/sql.ts";
import { silentLogger } from "../../shared/http/logger.ts";
import { ADMIN_KEY } from "../support/app.ts";

/** One request the server saw; `status` is null while it is in flight. */
export interface Exchange {
  method: string;
  path: string;
  // deno-lint-ignore no-explicit-any
  body: any;
  status: number | null;
  // deno-lint-ignore no-explicit-any
  response?: any;
  /** When it arrived (Date.now()). */
  at: number;
  /** When it was answered. */
  endedAt?: number;
}

/** A fault: answer `status` instead of serving, for matching requests, `times` times. */
export interface FaultRule {
  path: RegExp;
  method?: string;
  status?: number;
  retryAfter?: number;
  times?: number;
  // deno-lint-ignore no-explicit-any
  when?: (body: any) => boolean;
}

/** The app on a real port over `sql`, with its exchanges and injectable faults. */
export function serveEdgeflow(sql: Sql, config: Partial<AppConfig> = {}) {
  const app = createApp({
    sql: () => sql,
    config: { adminKey: ADMIN_KEY, heartbeatSeconds: 1, leaseSeconds: 2, ...config },
    log: silentLogger,
  });
  const exchanges: Exchange[] = [];
  const rules: (FaultRule & { left: number })[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const { pathname } = new URL(req.url);
    const text = req.method === "POST" || req.method === "PUT" ? await req.clone().text() : "";
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch { /* not JSON: the app answers 400 */ }
    const x: Exchange = { method: req.method, path: pathname, body, status: null, at: Date.now() };
    if (pathname.startsWith("/heartbeat")) exchanges.push(x);
    const rule = rules.find((r) =>
      r.left > 0 && r.path.test(pathname) && (!r.method || r.method === req.method) &&
      (!r.when || r.when(body))
    );
    if (rule) {
      rule.left--;
      x.status = rule.status ?? 503;
      const headers: Record<string, string> = { "content-type": "application/problem+json" };
      if (rule.retryAfter !== undefined) headers["retry-after"] = String(rule.retryAfter);
      return new Response(
        JSON.stringify({ status: x.status, code: "unavailable", detail: "injected fault" }),
        { status: x.status, headers },
      );
    }
    const res = await app.fetch(req);
    x.status = res.status;
    x.endedAt = Date.now();
    if (pathname.startsWith("/heartbeat")) {
      const out = await res.clone().text();
      try {
        x.response = JSON.parse(out);
      } catch { /* empty */ }
    }
    return res;
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  return {
    url,
    exchanges,
    /** Adds a fault; returns the function that lifts it. */
    fault(rule: FaultRule): () => void {
      const r = { ...rule, left: rule.times ?? Infinity };
      rules.push(r);
      return () => {
        r.left = 0;
      };
    },
    /** JSON request with the admin key. */
    async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
      const res = await app.request(path, {
        method,
        headers: {
          authorization: `Bearer ${ADMIN_KEY}`,
          "content-type": "application/json",
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      // deno-lint-ignore no-explicit-any
      let parsed: any = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch { /* not JSON */ }
      return { status: res.status, body: parsed };
    },
    close: () => server.shutdown(),
  };
}

export type ServedEdgeflow = ReturnType<typeof serveEdgeflow>;

if (import.meta.main) {
  const { parseArgs } = await import("node:util");
  const { databaseKinds } = await import("../support/db.ts");
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "heartbeat-seconds": { type: "string", default: "1" },
      "lease-seconds": { type: "string", default: "2" },
    },
  });
  const kind = databaseKinds().at(-1)!;
  const db = await kind.open();
  const served = serveEdgeflow(db.sql, {
    heartbeatSeconds: Number(values["heartbeat-seconds"]),
    leaseSeconds: Number(values["lease-seconds"]),
  });
  let stopped = false;
  const ticking = (async () => {
    while (!stopped) {
      await served.call("POST", "/trigger/tick").catch(() => {});
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await ticking;
    await served.close();
    await db.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  console.log(JSON.stringify({ url: served.url, key: ADMIN_KEY, database: kind.name }));
  // The parent closing our stdin (or dying) ends the server.
  for await (const _ of Deno.stdin.readable) { /* drain */ }
  await stop();
}
