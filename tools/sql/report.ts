import type { Difference } from "./catalog.ts";

/** One difference as a few readable lines (the first differing line of each side). */
export function describe(d: Difference): string {
  if (d.migrations === undefined) return `+ ${d.key}: only in sql/ (no migration creates it)`;
  if (d.source === undefined) return `- ${d.key}: only in migrations/ (not in sql/)`;
  const a = d.migrations.split("\n");
  const b = d.source.split("\n");
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return `~ ${d.key}: differs at line ${i + 1}\n    migrations: ${
    a[i] ?? "(end)"
  }\n    sql/:       ${b[i] ?? "(end)"}`;
}
