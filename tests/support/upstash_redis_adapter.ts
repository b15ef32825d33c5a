/**
 * A test-only server speaking the Upstash Redis REST protocol onto the real
 * Redis of this machine, so the real `@upstash/redis` client is tested
 * against real Redis semantics (scripts, expiry, NX) instead of a mock.
 *
 *   POST /            ["SET","k","v","EX","10"]        → {"result":"OK"}
 *   POST /pipeline    [["INCR","k"],["PTTL","k"]]      → [{"result":1},{"result":-1}]
 *   POST /multi-exec  the same, inside MULTI/EXEC
 *
 * With `Upstash-Encoding: base64` (the client's default) string results are
 * base64-encoded, as Upstash does. Each HTTP request uses its own Redis
 * connection: a few hundred microseconds on loopback, and no interleaving.
 *
 *   await using redis = await startUpstashRedisAdapter();
 *   const client = new Redis({ url: redis.url, token: redis.token });
 */

/** A reply Redis sent as an error (`-ERR ...`). */
class RespError {
  constructor(readonly message: string) {}
}
type Reply = string | number | null | RespError | Reply[];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encodeCommand(args: unknown[]): Uint8Array {
  const parts = args.map((arg) => encoder.encode(typeof arg === "string" ? arg : String(arg)));
  const chunks = [encoder.encode(`*${parts.length}\r\n`)];
  for (const part of parts) {
    chunks.push(encoder.encode(`$${part.length}\r\n`), part, encoder.encode("\r\n"));
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Just enough RESP2 over one TCP connection: send commands, read their replies in order. */
class RespConnection {
  #buffer = new Uint8Array(0);
  private constructor(readonly conn: Deno.TcpConn) {}

  static async open(hostname: string, port: number): Promise<RespConnection> {
    return new RespConnection(await Deno.connect({ hostname, port }));
  }

  async run(commands: unknown[][]): Promise<Reply[]> {
    const bytes = commands.map(encodeCommand);
    const all = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
    bytes.reduce((offset, b) => (all.set(b, offset), offset + b.length), 0);
    for (let written = 0; written < all.length;) {
      written += await this.conn.write(all.subarray(written));
    }
    const replies: Reply[] = [];
    for (let i = 0; i < commands.length; i++) replies.push(await this.#reply());
    return replies;
  }

  close(): void {
    this.conn.close();
  }

  async #fill(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.conn.read(chunk);
    if (n === null) throw new Error("Redis closed the connection");
    const merged = new Uint8Array(this.#buffer.length + n);
    merged.set(this.#buffer);
    merged.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = merged;
  }

  async #line(): Promise<string> {
    let end: number;
    while ((end = this.#buffer.indexOf(13)) < 0 || end + 1 >= this.#buffer.length) {
      await this.#fill();
    }
    const line = decoder.decode(this.#buffer.subarray(0, end));
    this.#buffer = this.#buffer.subarray(end + 2);
    return line;
  }

  async #reply(): Promise<Reply> {
    const line = await this.#line();
    const [type, rest] = [line[0], line.slice(1)];
    if (type === "+") return rest;
    if (type === "-") return new RespError(rest);
    if (type === ":") return Number(rest);
    const size = Number(rest);
    if (size < 0) return null;
    if (type === "*") {
      const items: Reply[] = [];
      for (let i = 0; i < size; i++) items.push(await this.#reply());
      return items;
    }
    if (type !== "$") throw new Error(`unexpected RESP reply: ${line}`);
    while (this.#buffer.length < size + 2) await this.#fill();
    const text = decoder.decode(this.#buffer.subarray(0, size));
    this.#buffer = this.#buffer.subarray(size + 2);
    return text;
  }
}

function base64(text: string): string {
  return btoa(String.fromCharCode(...encoder.encode(text)));
}

/** Upstash's JSON for one reply; strings (also nested ones) base64 when asked. */
function toJson(reply: Reply, encode: boolean): { result: unknown } | { error: string } {
  if (reply instanceof RespError) return { error: reply.message };
  const convert = (value: Reply): unknown => {
    if (typeof value === "string") return encode ? base64(value) : value;
    if (Array.isArray(value)) return value.map(convert);
    return value instanceof RespError ? value.message : value;
  };
  return { result: convert(reply) };
}

function isCommand(value: unknown): value is unknown[] {
  return Array.isArray(value) && value.length > 0 && value.every((v) => typeof v !== "object");
}

/** Options of {@link startUpstashRedisAdapter}. */
export interface UpstashRedisAdapterOptions {
  /** Bearer token to require (default: random). */
  token?: string;
  /** The real Redis (default 127.0.0.1:6379). */
  redisHostname?: string;
  redisPort?: number;
}

/** The running adapter: give `url` and `token` to `new Redis({ url, token })`. */
export interface UpstashRedisAdapter extends AsyncDisposable {
  url: string;
  token: string;
  /** HTTP requests served so far. */
  readonly requests: number;
  close(): Promise<void>;
}

/**
 * Start the adapter on 127.0.0.1 and a free port. Fails at once, with a clear
 * message, when the real Redis does not answer PING.
 */
export async function startUpstashRedisAdapter(
  options: UpstashRedisAdapterOptions = {},
): Promise<UpstashRedisAdapter> {
  const token = options.token ?? crypto.randomUUID();
  const hostname = options.redisHostname ?? "127.0.0.1";
  const port = options.redisPort ?? 6379;
  const probe = await RespConnection.open(hostname, port).catch((error) => {
    throw new Error(`real Redis is not reachable on ${hostname}:${port}: ${error.message}`);
  });
  probe.close();
  let requests = 0;

  async function handle(request: Request): Promise<Response> {
    requests++;
    if (request.headers.get("authorization") !== `Bearer ${token}`) {
      return Response.json({ error: "Unauthorized" }, { status: 401 });
    }
    const path = new URL(request.url).pathname;
    if (request.method !== "POST" || !["/", "/pipeline", "/multi-exec"].includes(path)) {
      return Response.json({ error: `ERR unknown endpoint ${path}` }, { status: 404 });
    }
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return Response.json({ error: "ERR failed to parse command" }, { status: 400 });
    }
    const encode = request.headers.get("upstash-encoding")?.toLowerCase() === "base64";
    const batch = path === "/pipeline" || path === "/multi-exec";
    const commands = batch && Array.isArray(body) ? body : [body];
    if (!commands.every(isCommand)) {
      return Response.json({ error: "ERR command must be a non-empty array" }, { status: 400 });
    }
    const conn = await RespConnection.open(hostname, port);
    try {
      if (path === "/multi-exec") {
        const replies = await conn.run([["MULTI"], ...commands, ["EXEC"]]);
        const exec = replies[replies.length - 1];
        // EXECABORT (a command refused while queueing): Upstash fails the whole call.
        if (!Array.isArray(exec)) {
          const error = exec instanceof RespError ? exec.message : "ERR transaction aborted";
          return Response.json({ error }, { status: 400 });
        }
        return Response.json(exec.map((reply) => toJson(reply, encode)));
      }
      const replies = (await conn.run(commands)).map((reply) => toJson(reply, encode));
      if (batch) return Response.json(replies);
      return Response.json(replies[0], { status: "error" in replies[0] ? 400 : 200 });
    } finally {
      conn.close();
    }
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
  const close = () => server.shutdown();
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    token,
    get requests() {
      return requests;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
