/**
 * The control-plane client of `@edgeflow/sdk`: register a flow, deploy it,
 * trigger a run and wait for it. A thin `fetch` wrapper over api.md's
 * routes; errors are the server's problem documents, thrown as `ApiError`.
 */

/** Options of `createClient`. */
export interface ClientOptions {
  /** Base URL of the control plane, e.g. `http://localhost:8000`. */
  url: string;
  /** An API key (scopes as the calls need: `register`, `deploy`, `trigger`, or `admin`). */
  key: string;
  /** HTTP client (default: the global `fetch`). */
  fetch?: typeof fetch;
}

/** A refused call: the status and the server's problem document. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: { code?: string; detail?: string; errors?: unknown[] } | null,
    path: string,
  ) {
    super(`${path}: ${status} ${problem?.code ?? ""} ${problem?.detail ?? ""}`.trim());
    this.name = "ApiError";
  }
}

/** A run as `GET /trigger/runs/:id` shows it. */
export interface Run {
  id: string;
  status: string;
  flow: string;
  output: unknown;
  error: unknown;
  steps: { slug: string; status: string; attempts: number; output: unknown; error: unknown }[];
  [key: string]: unknown;
}

/** Statuses a run ends in. */
export const FINAL_STATUSES: readonly string[] = ["COMPLETED", "FAILED", "CANCELLED", "CRASHED"];

/** The client made by `createClient`. */
export interface Client {
  /** `POST /register`: a flow definition (api.md, "register"). */
  register(flow: Record<string, unknown>): Promise<{ name: string; version: number }>;
  /** `POST /deploy`: create or update a deployment. */
  deploy(deployment: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** `POST /trigger/:deployment`: start a run; resolves with its id and status. */
  trigger(
    deployment: string,
    parameters?: Record<string, unknown>,
  ): Promise<{ run_id: string; status: string }>;
  /** `GET /trigger/runs/:id`. */
  run(id: string): Promise<Run>;
  /** Polls a run until it ends (or `timeoutMs` passes: throws). */
  waitForRun(id: string, options?: { timeoutMs?: number; intervalMs?: number }): Promise<Run>;
}

/** Creates a client of the control plane at `options.url`. */
export function createClient(options: ClientOptions): Client {
  const base = options.url.replace(/\/+$/, "");
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await doFetch(base + path, {
      method,
      headers: { Authorization: `Bearer ${options.key}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch { /* not JSON */ }
    if (!res.ok) throw new ApiError(res.status, json as ApiError["problem"], path);
    return json as T;
  };
  const seg = encodeURIComponent;
  const client: Client = {
    register: (flow) => call("POST", "/register", flow),
    deploy: (deployment) => call("POST", "/deploy", deployment),
    trigger: (deployment, parameters = {}) =>
      call("POST", `/trigger/${seg(deployment)}`, { parameters }),
    run: (id) => call("GET", `/trigger/runs/${seg(id)}`),
    async waitForRun(id, o = {}) {
      const until = Date.now() + (o.timeoutMs ?? 300_000);
      for (;;) {
        const run = await client.run(id);
        if (FINAL_STATUSES.includes(run.status)) return run;
        if (Date.now() > until) throw new Error(`run ${id} is still ${run.status}`);
        await new Promise((r) => setTimeout(r, o.intervalMs ?? 500));
      }
    },
  };
  return client;
}
