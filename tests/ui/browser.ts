/**
 * What every dashboard browser test needs: Debian's chromium (skipped,
 * saying why, where it is missing; .ci/run installs it), the app served on a
 * real port, a keyed `call` over HTTP to it, and the browser, closed with the
 * server whatever the test did. Screenshots go to `OUTPUT` (tests/output/).
 */
import { type Browser, chromium } from "playwright-core";
import type { Hono } from "hono";
import { dbTest, type TestDatabase } from "../support/db.ts";
import { ADMIN_KEY, testApp } from "../support/app.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const OUTPUT = new URL("../output/", import.meta.url);
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);

export interface BrowserCase {
  db: TestDatabase;
  // deno-lint-ignore no-explicit-any
  app: Hono<any>;
  /** Where the app is served: `http://127.0.0.1:<port>`. */
  base: string;
  // deno-lint-ignore no-explicit-any
  call: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;
  browser: Browser;
}

export function browserTest(
  name: string,
  fn: (t: BrowserCase) => Promise<void>,
  options: Parameters<typeof dbTest>[2] = {},
): void {
  if (!hasChromium) {
    Deno.test({
      name: `${name} (skipped: ${CHROMIUM} is missing; apt-get install chromium)`,
      ignore: true,
      fn() {},
    });
    return;
  }
  dbTest(name, async (db) => {
    await Deno.mkdir(OUTPUT, { recursive: true });
    const { app } = testApp(db);
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.fetch);
    const base = `http://127.0.0.1:${server.addr.port}`;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    };
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
    });
    try {
      await fn({ db, app, base, call, browser });
    } finally {
      await browser.close();
      await server.shutdown();
    }
  }, options);
}
