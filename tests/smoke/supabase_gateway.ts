/**
 * A local stand-in for Supabase's functions gateway: `/functions/v1/<name>/…`
 * goes to the process serving function `<name>`, which sees the path as
 * Supabase's edge runtime hands it over, `/<name>/…` (query string kept,
 * redirects and cookies passed through untouched). Anything else is 404.
 *
 *   deno run -A tests/smoke/supabase_gateway.ts <port> register=<port> deploy=<port> …
 *
 * Prints `gateway listening <port>` once it accepts connections.
 */
const [listen, ...routes] = Deno.args;
const upstream = new Map(routes.map((r) => {
  const [name, port] = r.split("=");
  return [name, Number(port)] as const;
}));

Deno.serve({
  port: Number(listen),
  hostname: "127.0.0.1",
  onListen: ({ port }) => console.log(`gateway listening ${port}`),
}, async (req) => {
  const url = new URL(req.url);
  const match = /^\/functions\/v1\/([a-z0-9_-]+)(\/.*)?$/.exec(url.pathname);
  const port = match && upstream.get(match[1]);
  if (!match || !port) {
    return Response.json({ code: "not_found", message: "no such function" }, { status: 404 });
  }
  const target = `http://127.0.0.1:${port}/${match[1]}${match[2] ?? ""}${url.search}`;
  const headers = new Headers(req.headers);
  headers.set("x-forwarded-host", url.host);
  headers.set("x-forwarded-proto", "http");
  const res = await fetch(target, {
    method: req.method,
    headers,
    body: req.body,
    redirect: "manual",
    signal: req.signal,
  }).catch((err) => new Response(`gateway: ${err}`, { status: 502 }));
  return new Response(res.body, { status: res.status, headers: res.headers });
});
