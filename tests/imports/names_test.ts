import assert from "node:assert/strict";
import { assignSlugs, sanitizeSlug, SLUG_PATTERN } from "../../shared/imports/names.ts";
import { formatPath } from "../../shared/imports/plan.ts";

Deno.test("slugs replace every character outside [A-Za-z0-9_-] and stop at 63", () => {
  assert.equal(sanitizeSlug("calc RSI (14d).v2"), "calc_RSI__14d__v2");
  assert.equal(sanitizeSlug("x".repeat(80)).length, 63);
});

Deno.test("slugs stay unique and valid, and valid names are never renamed", () => {
  const long = "y".repeat(70);
  const names = ["a b", "a_b", `${long}1`, `${long}2`, "ok-name"];
  const slugs = assignSlugs(names);
  assert.deepEqual([...slugs.values()], [
    "a_b_2",
    "a_b",
    "y".repeat(63),
    `${"y".repeat(61)}_2`,
    "ok-name",
  ]);
  for (const slug of slugs.values()) assert.match(slug, SLUG_PATTERN);
  // Same input, same answer.
  assert.deepEqual(assignSlugs(names), slugs);
});

Deno.test("paths print like the API's errors[].path", () => {
  assert.equal(formatPath(["trex", "flow", "flows", 1, "name"]), "trex.flow.flows[1].name");
  assert.equal(formatPath(["parameters", "a key"]), 'parameters["a key"]');
  assert.equal(formatPath([]), "");
});
