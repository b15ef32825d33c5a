import assert from "node:assert/strict";
import {
  assertValidParameters,
  checkParameterSchema,
  mergeParameters,
  missingRequiredParameters,
  validateParameters,
  withSchemaDefaults,
} from "../../shared/api/params.ts";
import { ApiError } from "../../shared/http/problem.ts";
import { MAX_MATCHED_LENGTH, SAFE_URL, safeUrl } from "../../shared/api/schema_guard.ts";
import { unsafePatternReason } from "../../shared/api/safe_regex.ts";
import { format } from "@cfworker/json-schema";

const SCHEMA = {
  type: "object",
  properties: {
    day: { type: "string", format: "date" },
    rows: { type: "array", items: { type: "object", properties: { id: { type: "integer" } } } },
    mode: { enum: ["full", "delta"], default: "delta" },
    cfg: { type: "object", properties: { a: { type: "number" } }, additionalProperties: false },
    "odd key": { type: "boolean" },
  },
  required: ["day", "mode"],
  additionalProperties: false,
};

/** Errors as a path → message map. */
const check = (params: unknown) =>
  Object.fromEntries(validateParameters(SCHEMA, params).map((e) => [e.path, e.message]));

Deno.test("valid parameters have no errors; a null schema accepts anything", () => {
  assert.deepEqual(validateParameters(SCHEMA, { day: "2026-11-22", mode: "full" }), []);
  assert.deepEqual(validateParameters(null, { anything: 1 }), []);
});

Deno.test("each invalid value is reported once, at its own path", () => {
  const errors = check({
    day: 5,
    rows: [{ id: 1 }, { id: "x" }],
    cfg: { a: "s", b: 1 },
    extra: true,
    "odd key": "no",
  });
  assert.deepEqual(Object.keys(errors).sort(), [
    "parameters.cfg.a",
    "parameters.cfg.b",
    "parameters.day",
    "parameters.extra",
    "parameters.mode",
    "parameters.rows[1].id",
    'parameters["odd key"]',
  ]);
  assert.equal(errors["parameters.mode"], "is required");
  assert.equal(errors["parameters.extra"], "is not allowed");
  assert.match(errors["parameters.rows[1].id"], /integer/);
});

Deno.test("formats are checked (a date must be a date)", () => {
  assert.ok(check({ day: "yesterday", mode: "full" })["parameters.day"]);
});

Deno.test("assertValidParameters throws a 422 problem with the paths", () => {
  assert.throws(() => assertValidParameters(SCHEMA, { mode: "full" }), (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 422);
    assert.deepEqual(err.errors, [{ path: "parameters.day", message: "is required" }]);
    return true;
  });
});

Deno.test("a schema with a broken $ref gives a 422-style error, not an exception", () => {
  const errors = validateParameters({ $ref: "#/nope" }, {});
  assert.equal(errors.length, 1);
  assert.equal(errors[0].path, "parameters");
});

Deno.test("mergeParameters overlays per top-level key, later layers winning", () => {
  const merged = mergeParameters(
    { day: "today", cfg: { a: 1, b: 2 }, keep: true },
    null,
    { cfg: { a: 3 }, day: undefined },
    { extra: null },
  );
  assert.deepEqual(merged, { day: "today", cfg: { a: 3 }, keep: true, extra: null });
});

Deno.test("withSchemaDefaults fills absent top-level parameters only", () => {
  assert.deepEqual(withSchemaDefaults(SCHEMA, { day: "d" }), { day: "d", mode: "delta" });
  assert.deepEqual(withSchemaDefaults(SCHEMA, { mode: "full" }), { mode: "full" });
  assert.deepEqual(withSchemaDefaults(null, { a: 1 }), { a: 1 });
});

Deno.test("missingRequiredParameters lists required names nobody supplies", () => {
  assert.deepEqual(missingRequiredParameters(SCHEMA, {}), ["day"]);
  assert.deepEqual(missingRequiredParameters(SCHEMA, { day: "today" }), []);
  assert.deepEqual(missingRequiredParameters(null, {}), []);
});

Deno.test("checkParameterSchema refuses catastrophic patterns, naming the schema path", () => {
  const errors = checkParameterSchema({
    type: "object",
    properties: { s: { type: "string", pattern: "^(a+)+$" }, ok: { pattern: "^[a-z]+$" } },
    patternProperties: { "^(x|xx)*$": { type: "string" } },
    $defs: { t: { type: "string", pattern: "(\\w+\\s?)*" } },
  });
  assert.deepEqual(errors.map((e) => e.path).sort(), [
    "parameters.$defs.t.pattern",
    'parameters.patternProperties["^(x|xx)*$"]',
    "parameters.properties.s.pattern",
  ]);
  assert.match(errors[0].message, /unsafe regular expression/);
  // Data is not a schema: a default that looks like one is left alone.
  assert.deepEqual(
    checkParameterSchema({ properties: { d: { default: { pattern: "(a+)+" } } } }),
    [],
  );
});

Deno.test("a stored schema with an unsafe pattern is not run at trigger time", () => {
  const stored = { type: "object", properties: { s: { type: "string", pattern: "^(a+)+$" } } };
  // 24 a's and a "!": ~16M backtracking steps with the pattern; none without it.
  const errors = validateParameters(stored, { s: "a".repeat(24) + "!" });
  assert.equal(errors.length, 1);
  assert.equal(errors[0].path, "parameters");
  assert.match(errors[0].message, /unsafe pattern at parameters\.properties\.s\.pattern/);
});

Deno.test("patterns and formats only run on strings of bounded length", () => {
  const schema = {
    type: "object",
    properties: {
      s: { type: "string", pattern: "^[a-z]+$" },
      e: { type: "string", format: "email" },
      n: { type: "string", minLength: 1 },
    },
  };
  const long = "a".repeat(MAX_MATCHED_LENGTH + 1);
  const errors = validateParameters(schema, { s: long, e: `${long}@x.io`, n: long });
  assert.deepEqual(errors.map((e) => e.path).sort(), ["parameters.e", "parameters.s"]);
  assert.match(errors[0].message, /too long/);
  // At the bound, patterns and formats still decide.
  const edge = "a".repeat(MAX_MATCHED_LENGTH);
  assert.deepEqual(validateParameters(schema, { s: edge }), []);
  assert.deepEqual(
    validateParameters(schema, { s: "A1", e: "nope" }).map((e) => [e.path, e.message]),
    [["parameters.s", "String does not match pattern."], [
      "parameters.e",
      'String does not match format "email".',
    ]],
  );
});

Deno.test("the url format is linear: 24 letters and a bang answer at once", () => {
  // @cfworker's own url regex doubles its work per letter here (2^24 steps; 40 would take hours).
  assert.equal(format.url, safeUrl, "the library's exponential url check is replaced");
  assert.equal(unsafePatternReason(SAFE_URL.source), null);
  const schema = { type: "object", properties: { u: { type: "string", format: "url" } } };
  const errors = validateParameters(schema, { u: `http://${"a".repeat(24)}!` });
  assert.equal(errors.length, 1);
  assert.deepEqual(validateParameters(schema, { u: "https://a-b.example.com:8080/x?y" }), []);
  assert.equal(validateParameters(schema, { u: "https://a--b.example.com" }).length, 1);
  assert.equal(validateParameters(schema, { u: "https://-a.example.com" }).length, 1);
});
