/**
 * The CLI's HTTP client of the edgeflow API. Every non-2xx answer becomes a
 * `CliError` carrying the server's problem document, so commands print
 * `error: <detail>` with the field paths the server named — never a stack
 * or raw JSON — and `--json` callers get the document itself.
 */
import { CliError } from "./io.ts";

/** An answer of the API: status and parsed JSON body. */
export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

/** The fields of an RFC 9457 problem document the CLI shows. */
interface Problem {
  detail?: string;
  title?: string;
  code?: string;
  errors?: { path?: string; message?: string }[];
}

/** Base URL, key and fetch; `request` answers every status, `call` only 2xx. */
export class ApiClient {
  readonly base: string;

  constructor(
    base: string,
    private readonly key: string | undefined,
    private readonly fetcher: typeof fetch,
  ) {
    this.base = base.replace(/\/+$/, "");
  }

  /** Whether requests carry a key (for the hint on a 401). */
  get hasKey(): boolean {
    return this.key !== undefined;
  }

  /** A GET whose response is left unread (for streams). */
  fetchRaw(path: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    const all = { ...headers, ...(this.key ? { authorization: `Bearer ${this.key}` } : {}) };
    return this.fetcher(this.base + path, { headers: all, signal });
  }

  /** Sends a request; network failures become a `CliError` naming the server. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    init: { signal?: AbortSignal; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { accept: "application/json", ...init.headers };
    if (this.key) headers.authorization = `Bearer ${this.key}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.fetcher(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: init.signal,
      });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw new CliError(`cannot reach the server at ${this.base}`, [
        (err as Error).message ?? String(err),
        "check --url or EDGEFLOW_URL, and that the server is running",
      ]);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON (a proxy's HTML error page): keep the text for the message.
    }
    return { status: res.status, body: parsed as T };
  }

  /** Like `request`, but anything other than 2xx throws the problem as a `CliError`. */
  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    init: { signal?: AbortSignal; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const res = await this.request<T>(method, path, body, init);
    if (res.status >= 200 && res.status < 300) return res;
    throw problemError(res, `${method} ${path}`, this.hasKey);
  }
}

/**
 * Opens a server-sent event stream; `null` when the server does not offer
 * one there (no route yet, or an answer that is not `text/event-stream`).
 */
export async function openEventStream(
  api: ApiClient,
  path: string,
  signal: AbortSignal,
): Promise<ReadableStream<Uint8Array> | null> {
  try {
    const res = await api.fetchRaw(path, { accept: "text/event-stream" }, signal);
    const type = res.headers.get("content-type") ?? "";
    if (res.ok && res.body && type.startsWith("text/event-stream")) return res.body;
    await res.body?.cancel();
  } catch {
    // No stream: the caller polls instead.
  }
  return null;
}

/** True when a 404 means "this server has no such route" rather than "no such object". */
export function isMissingRoute(res: ApiResponse): boolean {
  const p = res.body as Problem | null;
  return res.status === 404 && typeof p?.detail === "string" && p.detail.startsWith("no route for");
}

/** The `CliError` for a failed answer: the problem's detail, its field paths, and a hint. */
export function problemError(res: ApiResponse, what: string, hadKey: boolean): CliError {
  const p = (typeof res.body === "object" && res.body !== null ? res.body : {}) as Problem;
  const detail = p.detail ?? p.title ??
    (typeof res.body === "string" && res.body.trim()
      ? res.body.trim().slice(0, 200)
      : `${what} answered ${res.status}`);
  const lines = (p.errors ?? []).map((e) =>
    e.path ? `${e.path}: ${e.message ?? "invalid"}` : (e.message ?? "invalid")
  );
  if (res.status === 401) {
    lines.push(
      hadKey
        ? "the key was refused: check --key or EDGEFLOW_KEY"
        : "pass an API key with --key or set EDGEFLOW_KEY",
    );
  }
  if (res.status === 403) lines.push("use a key with the scope this command needs");
  const document = typeof res.body === "object" && res.body !== null
    ? res.body
    : { status: res.status, detail };
  return new CliError(detail, lines, 1, document);
}
