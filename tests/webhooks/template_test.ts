/**
 * A webhook's parameter template is bounded by what it builds, not only by
 * its shape: 200 expressions (the most a template may hold) of one 1 MiB
 * field would build 200 MiB before the 1 MiB check on the result. Rendering
 * stops once its values pass the bound and says so.
 */
import assert from "node:assert/strict";
import { applyTemplate, MAX_EXPRESSIONS } from "../../shared/webhooks/template.ts";

const MiB = 1024 * 1024;

Deno.test("a template repeating a large field stops at the bound instead of building it 200 times", () => {
  const big = "x".repeat(MiB - 100);
  const template = Object.fromEntries(
    Array.from({ length: MAX_EXPRESSIONS }, (_, i) => [`p${i}`, "copy: {{ body.big }}"]),
  );
  const out = applyTemplate(template, { body: { big }, headers: {}, query: {} }, MiB);
  assert.equal(out.oversize, true);
  // What was built stays within one value of the bound.
  assert.ok(JSON.stringify(out.parameters).length < 2 * MiB + 10_000);
});

Deno.test("whole-value expressions count their JSON size too", () => {
  const rows = Array.from({ length: 20_000 }, (_, i) => ({ id: i, name: "row" }));
  const template = Object.fromEntries(
    Array.from({ length: 10 }, (_, i) => [`p${i}`, "{{ body.rows }}"]),
  );
  const out = applyTemplate(template, { body: { rows }, headers: {}, query: {} }, MiB);
  assert.equal(out.oversize, true);
});

Deno.test("a template within the bound renders as before", () => {
  const out = applyTemplate(
    { repo: "{{ body.repository.full_name }}", all: "{{ body.repository }}", n: "n={{ body.n }}" },
    { body: { repository: { full_name: "a/b" }, n: 3 }, headers: {}, query: {} },
    MiB,
  );
  assert.equal(out.oversize, false);
  assert.deepEqual(out.parameters, { repo: "a/b", all: { full_name: "a/b" }, n: "n=3" });
  assert.deepEqual(out.missing, []);
});
