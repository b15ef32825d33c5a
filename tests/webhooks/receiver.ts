/**
 * A notification receiver on a served port: records every POST (headers,
 * raw body) and answers with the status its script gives for that attempt.
 * A script entry may be a promise: the answer then waits for it.
 */
export interface Received {
  headers: Record<string, string>;
  body: string;
}

export interface Receiver extends AsyncDisposable {
  url: string;
  received: Received[];
  /** Resolves once `n` requests have arrived; rejects after 10 s without them. */
  arrived(n: number): Promise<void>;
}

export function startReceiver(script: (attempt: number) => number | Promise<number>): Receiver {
  const received: Received[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const body = await req.text();
    received.push({ headers: Object.fromEntries(req.headers), body });
    for (const w of waiters.filter((w) => received.length >= w.n)) w.resolve();
    const status = await script(received.length);
    return new Response(status === 200 ? "ok" : "no", { status });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hooks/edgeflow`,
    received,
    arrived: (n) => {
      if (received.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`only ${received.length} of ${n} requests`)),
          10_000,
        );
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}
