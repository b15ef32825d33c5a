/**
 * Run parameters: checking a flow's JSON Schema once at registration,
 * validating parameters against it at trigger time, and layering defaults.
 *
 * `@cfworker/json-schema` is used because it interprets schemas instead of
 * compiling them with `eval` (which Workers forbid, and which is what
 * `ajv` does). Its error list mixes summaries ("Property \"day\" does not
 * match schema.") with the causes; only the causes are reported, each at the
 * path of the offending value (`parameters.day`, `parameters.rows[2].id`).
 */
import { dereference, type Schema, type SchemaDraft, Validator } from "@cfworker/json-schema";
import { ApiError } from "../http/api_error.ts";
import { type FieldError, formatPath } from "../http/error_path.ts";
import { boundMatching, unsafePatterns } from "./schema_guard.ts";

/** A JSON Schema object as stored with a flow version. */
export type JsonSchema = Record<string, unknown>;

/** Keywords whose error only summarises errors reported deeper down. */
const SUMMARY_KEYWORDS = new Set([
  "properties",
  "patternProperties",
  "additionalProperties",
  "unevaluatedProperties",
  "items",
  "prefixItems",
  "additionalItems",
  "unevaluatedItems",
  "allOf",
  "anyOf",
  "oneOf",
  "$ref",
  "$recursiveRef",
  "dependentSchemas",
  "if",
  "then",
  "else",
]);

/** `$schema` decides the draft; without one, 2020-12 (what Pydantic 2 and Prefect 3 emit). */
function draftOf(schema: JsonSchema): SchemaDraft {
  const uri = typeof schema.$schema === "string" ? schema.$schema : "";
  if (uri.includes("draft-04")) return "4";
  if (uri.includes("draft-07") || uri.includes("draft-06")) return "7";
  if (uri.includes("2019-09")) return "2019-09";
  return "2020-12";
}

/**
 * Problems that would make `schema` unusable at trigger time: unresolvable
 * `$ref`s, invalid regular expressions, a root that does not describe an
 * object. Empty when usable. `path` names the schema in the errors.
 */
export function checkParameterSchema(schema: JsonSchema, path = "parameters"): FieldError[] {
  if (schema.type !== undefined && schema.type !== "object") {
    return [{ path: `${path}.type`, message: 'parameters are an object: type must be "object"' }];
  }
  const errors: FieldError[] = [];
  // dereference() annotates every subschema with hidden properties: work on a copy.
  const copy = structuredClone(schema) as Schema;
  let lookup: Record<string, unknown>;
  try {
    lookup = dereference(copy);
  } catch (err) {
    return [{ path, message: (err as Error).message }];
  }
  const walk = (node: unknown, segments: PropertyKey[]) => {
    if (node === null || typeof node !== "object") return;
    const annotated = node as { __absolute_uri__?: string; __absolute_ref__?: string };
    if (annotated.__absolute_uri__ !== undefined) {
      const here = node as JsonSchema;
      if (annotated.__absolute_ref__ !== undefined && !(annotated.__absolute_ref__ in lookup)) {
        errors.push({
          path: formatPath([...segments, "$ref"], path),
          message: "unresolvable $ref",
        });
      }
      const patterns = [
        ...(typeof here.pattern === "string" ? [[here.pattern, "pattern"]] : []),
        ...Object.keys(asObject(here.patternProperties)).map((p) => [p, "patternProperties"]),
      ];
      for (const [pattern, keyword] of patterns) {
        try {
          new RegExp(pattern, "u");
        } catch {
          errors.push({
            path: formatPath([...segments, keyword], path),
            message: "invalid regular expression",
          });
        }
      }
    }
    for (const [key, value] of Object.entries(node)) {
      walk(value, [...segments, Array.isArray(node) ? Number(key) : key]);
    }
  };
  walk(copy, []);
  // Catastrophic backtracking (`^(a+)+$`): one trigger could block the server for minutes.
  for (const x of unsafePatterns(schema, path)) errors.push(x);
  return errors;
}

/**
 * Errors of `parameters` against `schema` (none when the schema is null),
 * with paths under `prefix`: `parameters.day`, `parameters.rows[0]`.
 */
export function validateParameters(
  schema: JsonSchema | null,
  parameters: unknown,
  prefix = "parameters",
): FieldError[] {
  if (schema === null) return [];
  // Stored before registration refused them: never run an unsafe pattern.
  const unsafe = unsafePatterns(schema, prefix);
  if (unsafe.length > 0) {
    return [{
      path: prefix,
      message: `the flow's parameter schema has an unsafe pattern at ${unsafe[0].path}; ` +
        "register a new version without it",
    }];
  }
  const bounded = structuredClone(schema);
  boundMatching(bounded);
  let result;
  try {
    result = new Validator(bounded as Schema, draftOf(schema), false).validate(parameters);
  } catch (err) {
    // Registration checks schemas, so this means one stored before that check existed.
    return [{
      path: prefix,
      message: `the flow's parameter schema is unusable: ${(err as Error).message}`,
    }];
  }
  if (result.valid) return [];
  const located = result.errors.map((e) => {
    let segments = pointerSegments(e.instanceLocation, parameters);
    let message = e.error;
    const property = /^(?:Instance does not have required property|Property) "(.*)"/.exec(e.error)
      ?.[1];
    if (e.keyword === "required" && property !== undefined) {
      segments = [...segments, property];
      message = "is required";
    } else if (property !== undefined && e.keyword.endsWith("roperties")) {
      segments = [...segments, property];
      if (e.keyword === "additionalProperties") message = "is not allowed";
    } else if (e.keyword === "false") {
      message = "is not allowed";
    }
    return { keyword: e.keyword, path: formatPath(segments, prefix), message };
  });
  // Drop a summary when a cause is reported at the same place or below it.
  const causes = located.filter((e) => !SUMMARY_KEYWORDS.has(e.keyword));
  const kept = located.filter((e) =>
    !SUMMARY_KEYWORDS.has(e.keyword) ||
    !causes.some((c) =>
      c.path === e.path || c.path.startsWith(e.path + ".") || c.path.startsWith(e.path + "[")
    )
  );
  const seen = new Set<string>();
  return kept.flatMap(({ path, message }) => {
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) return [];
    seen.add(key);
    return [{ path, message }];
  });
}

/** `validateParameters`, throwing 422 `validation_failed` when there are errors. */
export function assertValidParameters(schema: JsonSchema | null, parameters: unknown): void {
  const errors = validateParameters(schema, parameters);
  if (errors.length > 0) {
    throw ApiError.of("validation_failed", "the parameters do not match the flow's schema", errors);
  }
}

/**
 * Layers parameter objects, later layers winning per top-level key
 * (deployment defaults, then schedule, then trigger). Shallow on purpose,
 * as in Prefect (`{**deployment.parameters, **parameters}`): a trigger that
 * passes `config` replaces the whole `config`, so a caller can always state
 * a nested value exactly, without leftovers from the defaults.
 */
export function mergeParameters(
  ...layers: (Record<string, unknown> | null | undefined)[]
): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer ?? {})) {
      if (value !== undefined) merged[key] = value;
    }
  }
  return merged;
}

/** Adds the schema's top-level `default`s for parameters that are absent. */
export function withSchemaDefaults(
  schema: JsonSchema | null,
  parameters: Record<string, unknown>,
): Record<string, unknown> {
  const out = { ...parameters };
  for (const [name, property] of Object.entries(asObject(schema?.properties))) {
    const fallback = asObject(property).default;
    if (!(name in out) && fallback !== undefined) out[name] = structuredClone(fallback);
  }
  return out;
}

/**
 * Required top-level parameters that neither `defaults` nor the schema's
 * own `default` supply. A deployment with any of these cannot be scheduled:
 * the scheduler would not know what to pass (Prefect 1's rule).
 */
export function missingRequiredParameters(
  schema: JsonSchema | null,
  defaults: Record<string, unknown> = {},
): string[] {
  const required = Array.isArray(schema?.required) ? schema.required : [];
  const properties = asObject(schema?.properties);
  return required.filter((name): name is string =>
    typeof name === "string" && !(name in defaults) &&
    asObject(properties[name]).default === undefined
  );
}

/** Path segments of a JSON pointer fragment (`#/rows/0/id`), numbers where the value is an array. */
function pointerSegments(location: string, instance: unknown): PropertyKey[] {
  const segments: PropertyKey[] = [];
  let value = instance;
  for (const raw of location.replace(/^#\/?/, "").split("/")) {
    if (raw === "") continue;
    let key: string;
    try {
      key = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    } catch {
      key = raw;
    }
    const index = Array.isArray(value) && /^\d+$/.test(key) ? Number(key) : undefined;
    segments.push(index ?? key);
    value = (value as Record<PropertyKey, unknown> | null)?.[index ?? key];
  }
  return segments;
}

function asObject(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}
