/**
 * Canonical JSON values: object keys sorted, `undefined` dropped, arrays
 * kept in order. Two inputs that mean the same thing become the same value,
 * so a hash of `JSON.stringify(canonicalize(x))` (or of the jsonb the
 * database makes from it) does not depend on how a client ordered its keys.
 */

/** A deep copy of a JSON-compatible value with every object's keys in code-unit order. */
export function canonicalize(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => item === undefined ? null : canonicalize(item));
  }
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== undefined) out[key] = canonicalize(item);
  }
  return out;
}

/** Sorted, de-duplicated copy of a list of strings. */
export function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}
