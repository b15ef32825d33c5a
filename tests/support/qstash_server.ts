/**
 * A local QStash look-alike for tests. It speaks the part of the v2 API that
 * `@upstash/qstash`'s `Client` uses for publishing and schedules, records
 * every request, and delivers a recorded message to its destination signed
 * exactly as QStash signs (see `signQstashJwt`), so the real `Receiver` — and
 * our middleware — accept it.
 *
 *   await using qstash = await startQstashServer();
 *   const publisher = createQstashPublisher({ token: qstash.token, baseUrl: qstash.url });
 *   const res = await qstash.deliver(messageId, { fetch: (r) => app.fetch(r) });
 */

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array, padding = false): string {
  const b64 = btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
  return padding ? b64 : b64.replace(/=+$/, "");
}

function randomId(prefix: string): string {
  const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  const bytes = crypto.getRandomValues(new Uint8Array(26));
  return prefix + Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

/**
 * Sign a delivery the way QStash does: a compact HS256 JWT over
 * `{iss:"Upstash", sub:url, exp, nbf, iat, jti, body}`, where `body` is the
 * base64url SHA-256 of the raw body (QStash keeps the `=` padding; `Receiver`
 * strips it before comparing). Tokens live 5 minutes, as QStash's do.
 * `now` is the signing instant in ms (default `Date.now()`).
 */
export async function signQstashJwt(
  input: { key: string; url: string; body: string; now?: number },
): Promise<string> {
  const iat = Math.floor((input.now ?? Date.now()) / 1000);
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(input.body));
  const claims = {
    iss: "Upstash",
    sub: input.url,
    exp: iat + 300,
    nbf: iat,
    iat,
    jti: randomId("jwt_"),
    body: base64url(new Uint8Array(digest), true),
  };
  const part = (value: unknown) => base64url(encoder.encode(JSON.stringify(value)));
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}`;
  const hmac = { name: "HMAC", hash: "SHA-256" };
  const key = await crypto.subtle.importKey("raw", encoder.encode(input.key), hmac, false, [
    "sign",
  ]);
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(unsigned));
  return `${unsigned}.${base64url(new Uint8Array(mac))}`;
}

/** One HTTP request the server received (header names lower-cased; path includes the query). */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A message as QStash holds it; `delay`/`notBefore` are the raw header values. */
export interface RecordedMessage {
  messageId: string;
  destination: string;
  body: string;
  /** What the destination will get: `Upstash-Forward-*` unprefixed, and `content-type`. */
  forwardHeaders: Record<string, string>;
  delay: string | null;
  notBefore: string | null;
  deduplicationId: string | null;
  scheduleId: string | null;
  /** Deliveries made so far. */
  deliveries: number;
}

/** A schedule, shaped like the entries of `GET /v2/schedules`. */
export interface RecordedSchedule {
  scheduleId: string;
  cron: string;
  destination: string;
  method: string;
  body: string;
  header: Record<string, string[]>;
  createdAt: number;
}

/** Options of `deliver` and `fire`. */
export interface DeliverOptions {
  /** Key to sign with (default: the server's current key; pass another to forge). */
  key?: string;
  /** A retry: `Upstash-Retried` becomes the number of earlier deliveries (at least 1). */
  redelivery?: boolean;
  /** Send this body instead of the signed one (tampering). */
  sendBody?: string;
  /** Deliver through this instead of the network, e.g. `(r) => app.fetch(r)`. */
  fetch?: (request: Request) => Response | Promise<Response>;
  /** Signing instant in ms (default now). */
  now?: number;
}

/** What the destination answered (its body read to the end). */
export interface DeliveryResult {
  status: number;
  body: string;
  messageId: string;
}

/** The running look-alike. `await using` it, or `close()` it, in every test. */
export interface QstashTestServer extends AsyncDisposable {
  /** Base URL, i.e. `QSTASH_URL`. */
  url: string;
  /** Bearer token it accepts, i.e. `QSTASH_TOKEN`. */
  token: string;
  currentSigningKey: string;
  nextSigningKey: string;
  requests: RecordedRequest[];
  messages: Map<string, RecordedMessage>;
  schedules: Map<string, RecordedSchedule>;
  /** POST a recorded message to its destination with a genuine signature. */
  deliver(messageId: string, options?: DeliverOptions): Promise<DeliveryResult>;
  /** Fire a schedule once: make a message from it (with `Upstash-Schedule-Id`) and deliver it. */
  fire(scheduleId: string, options?: DeliverOptions): Promise<DeliveryResult>;
  close(): Promise<void>;
}

const json = (status: number, value: unknown) => Response.json(value, { status });

function forwarded(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (name.startsWith("upstash-forward-")) out[name.slice("upstash-forward-".length)] = value;
    if (name === "content-type") out[name] = value;
  }
  return out;
}

/** Start the look-alike on 127.0.0.1, on a free port. Keys and token are random unless given. */
export function startQstashServer(
  options: { token?: string; currentSigningKey?: string; nextSigningKey?: string } = {},
): Promise<QstashTestServer> {
  const token = options.token ?? randomId("qstash_");
  const currentSigningKey = options.currentSigningKey ?? randomId("sig_");
  const nextSigningKey = options.nextSigningKey ?? randomId("sig_");
  const requests: RecordedRequest[] = [];
  const messages = new Map<string, RecordedMessage>();
  const schedules = new Map<string, RecordedSchedule>();
  const dedup = new Map<string, string>();

  type Fields = Pick<RecordedMessage, "destination" | "body" | "forwardHeaders" | "scheduleId">;
  function record(fields: Fields, sent = new Headers()): string {
    const messageId = randomId("msg_");
    const deduplicationId = sent.get("upstash-deduplication-id");
    const [delay, notBefore] = [sent.get("upstash-delay"), sent.get("upstash-not-before")];
    messages.set(messageId, {
      ...fields,
      messageId,
      delay,
      notBefore,
      deduplicationId,
      deliveries: 0,
    });
    if (deduplicationId) dedup.set(deduplicationId, messageId);
    return messageId;
  }

  function publish(destination: string, headers: Headers, body: string): Response {
    const seen = dedup.get(headers.get("upstash-deduplication-id") ?? "");
    // Real QStash answers a duplicate with 202 and the first message's id.
    if (seen) return json(202, { messageId: seen, url: destination, deduplicated: true });
    const fields = { destination, body, forwardHeaders: forwarded(headers), scheduleId: null };
    const messageId = record(fields, headers);
    return json(201, { messageId, url: destination });
  }

  function schedule(destination: string, headers: Headers, body: string): Response {
    const cron = headers.get("upstash-cron");
    if (!cron) return json(400, { error: "Upstash-Cron header is required" });
    // A given Upstash-Schedule-Id makes create an upsert, as on QStash.
    const scheduleId = headers.get("upstash-schedule-id") ?? randomId("scd_");
    const header = Object.fromEntries(
      Object.entries(forwarded(headers)).map(([name, value]) => [name, [value]]),
    );
    const method = headers.get("upstash-method") ?? "POST";
    const createdAt = Date.now();
    schedules.set(scheduleId, { scheduleId, cron, destination, method, body, header, createdAt });
    return json(200, { scheduleId });
  }

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    // The SDK joins the destination URL into the path unescaped, its query included.
    const path = url.pathname + url.search;
    const body = await request.text();
    const headers = Object.fromEntries(request.headers);
    requests.push({ method: request.method, path, headers, body });
    if (request.headers.get("authorization") !== `Bearer ${token}`) {
      return json(401, { error: "Unauthorized" });
    }
    const after = (prefix: string) => path.startsWith(prefix) ? path.slice(prefix.length) : "";
    const [publishTo, scheduleArg] = [after("/v2/publish/"), after("/v2/schedules/")];
    if (request.method === "POST" && publishTo) return publish(publishTo, request.headers, body);
    if (request.method === "POST" && scheduleArg) {
      return schedule(scheduleArg, request.headers, body);
    }
    if (request.method === "GET" && path === "/v2/schedules") {
      return json(200, [...schedules.values()]);
    }
    if (scheduleArg && (request.method === "GET" || request.method === "DELETE")) {
      const found = schedules.get(scheduleArg);
      if (!found) return json(404, { error: `schedule ${scheduleArg} not found` });
      if (request.method === "GET") return json(200, found);
      schedules.delete(scheduleArg);
      return new Response(null, { status: 200 });
    }
    return json(404, { error: `no route for ${request.method} ${url.pathname}` });
  }

  async function deliver(messageId: string, opts: DeliverOptions = {}): Promise<DeliveryResult> {
    const message = messages.get(messageId);
    if (!message) throw new Error(`no recorded message ${messageId}`);
    const retried = opts.redelivery ? Math.max(1, message.deliveries) : 0;
    message.deliveries++;
    const { destination: url, body } = message;
    const key = opts.key ?? currentSigningKey;
    const headers = new Headers(message.forwardHeaders);
    headers.set("upstash-signature", await signQstashJwt({ key, url, body, now: opts.now }));
    headers.set("upstash-message-id", messageId);
    headers.set("upstash-retried", String(retried));
    headers.set("user-agent", "Upstash-QStash");
    if (message.scheduleId) headers.set("upstash-schedule-id", message.scheduleId);
    const outbound = new Request(url, { method: "POST", headers, body: opts.sendBody ?? body });
    const response = await (opts.fetch ?? fetch)(outbound);
    return { status: response.status, body: await response.text(), messageId };
  }

  function fire(scheduleId: string, opts?: DeliverOptions): Promise<DeliveryResult> {
    const found = schedules.get(scheduleId);
    if (!found) throw new Error(`no schedule ${scheduleId}`);
    const forwardHeaders = Object.fromEntries(
      Object.entries(found.header).map(([name, values]) => [name, values[0]]),
    );
    const messageId = record({
      destination: found.destination,
      body: found.body,
      forwardHeaders,
      scheduleId,
    });
    return deliver(messageId, opts);
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
  const close = () => server.shutdown();
  return Promise.resolve({
    url: `http://127.0.0.1:${server.addr.port}`,
    token,
    currentSigningKey,
    nextSigningKey,
    requests,
    messages,
    schedules,
    deliver,
    fire,
    close,
    [Symbol.asyncDispose]: close,
  });
}
