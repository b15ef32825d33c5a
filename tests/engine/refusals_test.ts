/**
 * Every refusal code the SQL source tree can return (`jsonb_build_object(
 * 'error', '<code>', …)` in sql/functions/) has its problem code in the one
 * map (shared/app/refusals.ts), and the map holds no code SQL never returns.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { isRefusalCode, refusalError, REFUSALS } from "../../shared/app/refusals.ts";
import { ERROR_CODES } from "../../shared/http/problem.ts";

const FUNCTIONS = fileURLToPath(new URL("../../sql/functions/", import.meta.url));

/** code → the function files that return it. */
async function sqlRefusalCodes(): Promise<Map<string, string[]>> {
  const codes = new Map<string, string[]>();
  for await (const entry of Deno.readDir(FUNCTIONS)) {
    if (!entry.name.endsWith(".sql")) continue;
    const text = await Deno.readTextFile(FUNCTIONS + entry.name);
    // `'error', 'code'` as a jsonb_build_object pair on one line; not a key read
    // (`v ->> 'error', 'message', …`) nor a jsonb value (`'error', 'null'::jsonb`).
    for (const m of text.matchAll(/(?<!->>? *)'error', *'([a-z_]+)'(?!::)/g)) {
      codes.set(m[1], [...codes.get(m[1]) ?? [], entry.name]);
    }
  }
  return codes;
}

Deno.test("every refusal code SQL can return maps to a problem code", async () => {
  const codes = await sqlRefusalCodes();
  // The scan finds the refusals of the result path at least (guards the regex).
  for (const known of ["not_found", "stale_lease", "run_not_running", "archived"]) {
    assert.ok(codes.has(known), `the scan of sql/functions found no '${known}'`);
  }
  const unmapped = [...codes].filter(([code]) => !isRefusalCode(code))
    .map(([code, files]) => `${code} (${files.join(", ")})`);
  assert.deepEqual(unmapped, [], "refusal codes without a row in shared/app/refusals.ts");
  const unused = Object.keys(REFUSALS).filter((code) => !codes.has(code));
  assert.deepEqual(unused, [], "rows of shared/app/refusals.ts no SQL function returns");
});

Deno.test("a refusal renders with its mapped code and that code's status", () => {
  for (const [code, problem] of Object.entries(REFUSALS)) {
    const err = refusalError(code, "detail");
    assert.equal(err.code, problem);
    assert.equal(err.status, ERROR_CODES[problem].status);
  }
  // A code from a newer database is a refused request, never a 500.
  assert.equal(refusalError("from_a_newer_schema", "detail").status, 409);
});
