/**
 * Name rules of the edgeflow contract (api.md) and the one place where an
 * importer may change a name: task names become step slugs. Flow, deployment
 * and pool names are never rewritten — other systems refer to them — so an
 * invalid one is an error, not a silent rename.
 */

/** Flow (and, by our choice, deployment and pool) names: letters, digits, `.`, `_`, `-`, ≤ 128. */
export const NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** Step slugs: letters, digits, `_`, `-`, ≤ 63. */
export const SLUG_PATTERN = /^[A-Za-z0-9_-]{1,63}$/;

const SLUG_MAX = 63;

/** The message used when a name breaks {@link NAME_PATTERN}. */
export const NAME_RULE = "must be 1–128 letters, digits, '.', '_' or '-'";

/**
 * Sanitize one task name into a slug: every other character becomes `_`,
 * then the result is cut to 63 characters. Empty input yields "".
 */
export function sanitizeSlug(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, SLUG_MAX);
}

/**
 * Give each (distinct) name a unique slug. When a sanitized name collides
 * with another slug (e.g. "load data" next to "load_data") it gets `_2`,
 * `_3`, … — decided by input order, so the result is stable as long as the
 * source order is.
 */
export function assignSlugs(names: readonly string[]): Map<string, string> {
  const slugs = new Map<string, string>();
  const taken = new Set<string>();
  // Names that are already valid slugs keep them, whatever their position, so
  // adding a badly named task never renames an existing one.
  for (const name of names) {
    if (SLUG_PATTERN.test(name)) {
      slugs.set(name, name);
      taken.add(name);
    }
  }
  for (const name of names) {
    if (slugs.has(name)) continue;
    const base = sanitizeSlug(name) || "task";
    let slug = base;
    for (let n = 2; taken.has(slug); n++) {
      const suffix = `_${n}`;
      slug = base.slice(0, SLUG_MAX - suffix.length) + suffix;
    }
    slugs.set(name, slug);
    taken.add(slug);
  }
  // Hand the map back in input order, whatever order the slugs were decided in.
  return new Map(names.map((name) => [name, slugs.get(name)!]));
}
