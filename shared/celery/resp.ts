/**
 * A small Redis client over RESP2: commands (pipelined, answered in order)
 * and a subscriber mode for pub/sub messages.
 *
 * Why our own ~150 lines and not `npm:redis`/`ioredis`: the bridge needs six
 * commands (SELECT, AUTH, LPUSH, GET, PUBLISH, SUBSCRIBE), and those clients
 * bring 5–7 packages and Node's `net` typings for it; @upstash/redis speaks
 * REST, which Celery's Redis does not. The socket comes from the runtime
 * (`Connect`, shared/runtime/tcp.ts), so this file touches no runtime global.
 */

/** A byte stream both ways (a TCP connection). */
export interface Duplex {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  close(): void;
}

/** Opens a TCP connection. */
export type Connect = (host: string, port: number) => Promise<Duplex>;

/** A RESP2 reply. */
export type RespValue = string | number | null | RespValue[] | RespError;

/** An error reply (`-ERR …`). */
export class RespError extends Error {
  override name = "RespError";
}

/** Host, port, db and password of a `redis://` URL. */
export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  password: string | null;
}

/** Parses `redis://[:password@]host[:port][/db]`; throws `TypeError` on anything else. */
export function parseRedisUrl(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`not a redis:// URL: ${url}`);
  }
  if (u.protocol !== "redis:") throw new TypeError(`not a redis:// URL: ${url}`);
  const db = u.pathname.replace(/^\//, "") || "0";
  if (!/^\d+$/.test(db)) throw new TypeError(`the database of ${url} is not a number`);
  return {
    host: u.hostname || "127.0.0.1",
    port: u.port ? Number(u.port) : 6379,
    db: Number(db),
    password: u.password ? decodeURIComponent(u.password) : null,
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encodeCommand(args: (string | number)[]): Uint8Array {
  let out = `*${args.length}\r\n`;
  for (const a of args) {
    const s = String(a);
    out += `$${encoder.encode(s).length}\r\n${s}\r\n`;
  }
  return encoder.encode(out);
}

/** One reply parsed from `buf` at `at`, or null when more bytes are needed. */
function parseReply(buf: Uint8Array, at: number): { value: RespValue; next: number } | null {
  const eol = buf.indexOf(13, at);
  if (eol < 0 || eol + 1 >= buf.length) return null;
  const line = decoder.decode(buf.subarray(at + 1, eol));
  const next = eol + 2;
  switch (buf[at]) {
    case 43: // +
      return { value: line, next };
    case 45: // -
      return { value: new RespError(line), next };
    case 58: // :
      return { value: Number(line), next };
    case 36: { // $
      const n = Number(line);
      if (n < 0) return { value: null, next };
      if (buf.length < next + n + 2) return null;
      return { value: decoder.decode(buf.subarray(next, next + n)), next: next + n + 2 };
    }
    case 42: { // *
      const n = Number(line);
      if (n < 0) return { value: null, next };
      const items: RespValue[] = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, pos);
        if (!item) return null;
        items.push(item.value);
        pos = item.next;
      }
      return { value: items, next: pos };
    }
    default:
      throw new RespError(`unexpected RESP type byte ${buf[at]}`);
  }
}

/** A connection to Redis. Made by `RedisConnection.open`. */
export class RedisConnection {
  readonly #conn: Duplex;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pending: { resolve: (v: RespValue) => void; reject: (e: Error) => void }[] = [];
  #closed: Error | null = null;
  #onClosed!: (err: Error) => void;
  /** Resolves with the reason once the connection is gone (closed, reset, Redis restarted). */
  readonly closed: Promise<Error> = new Promise((resolve) => (this.#onClosed = resolve));
  /** Pub/sub messages (`["message", channel, data]`) go here, not to a command. */
  onMessage: ((channel: string, data: string) => void) | null = null;

  private constructor(conn: Duplex) {
    this.#conn = conn;
    this.#writer = conn.writable.getWriter();
    void this.#read();
  }

  /** Connects, authenticates, selects the URL's database and names itself (CLIENT LIST shows it). */
  static async open(
    connect: Connect,
    target: RedisTarget,
    name?: string,
  ): Promise<RedisConnection> {
    const c = new RedisConnection(await connect(target.host, target.port));
    if (target.password) await c.command("AUTH", target.password);
    if (target.db) await c.command("SELECT", target.db);
    if (name) await c.command("CLIENT", "SETNAME", name);
    return c;
  }

  /** Sends one command; resolves with its reply, rejects on an error reply. */
  command(...args: (string | number)[]): Promise<RespValue> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      this.#pending.push({
        resolve: (v) => (v instanceof RespError ? reject(v) : resolve(v)),
        reject,
      });
      this.#writer.write(encodeCommand(args)).catch((err) => this.#fail(err));
    });
  }

  /** Closes the connection; commands still waiting are rejected. */
  close(): void {
    this.#fail(new Error("redis connection closed"));
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  #fail(err: Error): void {
    if (!this.#closed) this.#onClosed(err);
    this.#closed ??= err;
    for (const p of this.#pending.splice(0)) p.reject(this.#closed);
  }

  async #read(): Promise<void> {
    let buf = new Uint8Array(0);
    try {
      for await (const chunk of this.#conn.readable) {
        const joined = new Uint8Array(buf.length + chunk.length);
        joined.set(buf);
        joined.set(chunk, buf.length);
        buf = joined;
        let at = 0;
        for (let r = parseReply(buf, at); r; r = parseReply(buf, at)) {
          at = r.next;
          this.#dispatch(r.value);
        }
        buf = buf.slice(at);
      }
      this.#fail(new Error("redis closed the connection"));
    } catch (err) {
      this.#fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #dispatch(value: RespValue): void {
    if (Array.isArray(value) && value[0] === "message" && this.onMessage) {
      this.onMessage(String(value[1]), String(value[2]));
      return;
    }
    this.#pending.shift()?.resolve(value);
  }
}
