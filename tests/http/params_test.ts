import assert from "node:assert/strict";
import {
  assertValidParameters,
  mergeParameters,
  missingRequiredParameters,
  validateParameters,
  withSchemaDefaults,
} from "../../shared/api/params.ts";
import { ApiError } from "../../shared/http/problem.ts";

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
