import assert from "node:assert/strict";
import { devVarFlags, parseDevVars } from "../../shared/runtime/cf_dev.ts";

Deno.test("cf:dev reads .dev.vars as wrangler does", () => {
  assert.deepEqual(
    parseDevVars(
      '# local\nDATABASE_URL="postgres://u@h/db"\n\nexport EDGEFLOW_ADMIN_KEY = k1\nnot a line\n',
    ),
    { DATABASE_URL: "postgres://u@h/db", EDGEFLOW_ADMIN_KEY: "k1" },
  );
});

Deno.test("cf:dev passes DATABASE_URL and the admin key to wrangler unless .dev.vars has them", () => {
  assert.deepEqual(devVarFlags({ DATABASE_URL: "postgres://x" }, {}, "dev-k"), [
    "--var",
    "DATABASE_URL:postgres://x",
    "--var",
    "EDGEFLOW_ADMIN_KEY:dev-k",
  ]);
  assert.deepEqual(
    devVarFlags({}, { DATABASE_URL: "postgres://y", EDGEFLOW_ADMIN_KEY: "k" }, "dev-k"),
    [],
  );
  const missing = devVarFlags({}, {}, "dev-k");
  assert.ok(missing instanceof Error);
  assert.match(missing.message, /needs a Postgres: set DATABASE_URL/);
});
