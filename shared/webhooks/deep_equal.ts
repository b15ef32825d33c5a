/** Equality of two JSON values (key order ignored), without recursion limits beyond JSON's own. */
export function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    Object.hasOwn(b, k) &&
    isDeepStrictEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}
