// Serves the wrangler bundle (.wrangler/dry-run/_worker.js) under workerd
// through Miniflare alone, without `wrangler dev`'s proxy in front: that proxy
// keeps reading a streamed answer after its own client has gone, so a client
// disconnect never reaches the Worker there (seen on wrangler 4.86.0), while
// workerd itself, as Cloudflare, aborts request.signal. Run through
// `npm exec --package=wrangler@… -- node tests/smoke/miniflare_serve.mjs`, so
// the Miniflare that wrangler ships is the one used.
// Env: MF_PORT, DATABASE_URL, EDGEFLOW_ADMIN_KEY, EDGEFLOW_HEARTBEAT_SECONDS.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const bin = (process.env.PATH ?? "").split(":").find((p) =>
  p.endsWith("node_modules/.bin") && existsSync(join(p, "..", "miniflare", "package.json"))
);
if (!bin) throw new Error("miniflare not found: run through npm exec --package=wrangler@…");
const { Miniflare } = await import(
  pathToFileURL(join(bin, "..", "miniflare", "dist", "src", "index.js")).href
);
const toml = await import("node:fs").then((fs) => fs.readFileSync("wrangler.toml", "utf8"));
const date = /compatibility_date\s*=\s*"([^"]+)"/.exec(toml)[1];
const flags = JSON.parse(/compatibility_flags\s*=\s*(\[[^\]]*\])/.exec(toml)[1]);
process.chdir(".wrangler/dry-run");
const mf = new Miniflare({
  modules: [{ type: "ESModule", path: "_worker.js" }],
  compatibilityDate: date,
  compatibilityFlags: flags,
  bindings: {
    DATABASE_URL: process.env.DATABASE_URL,
    EDGEFLOW_ADMIN_KEY: process.env.EDGEFLOW_ADMIN_KEY,
    EDGEFLOW_HEARTBEAT_SECONDS: process.env.EDGEFLOW_HEARTBEAT_SECONDS ?? "10",
  },
  host: "127.0.0.1",
  port: Number(process.env.MF_PORT),
});
console.log(`miniflare serving on ${await mf.ready}`);
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => mf.dispose().finally(() => process.exit(0)));
}
