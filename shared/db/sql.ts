/**
 * One tagged-template interface over postgres.js (Deno, Node, Workers) and
 * PGlite (the embedded default). Everything above this file speaks `Sql`.
 *
 * Conventions that keep both drivers behaving the same:
 * - JSON goes in as text with an explicit cast: `${JSON.stringify(v)}::text::jsonb`.
 * - uuids go in as strings with `::uuid`; lists as JSON (`jsonb_array_elements_text`).
 * - int8 results are cast to int or text in SQL (the drivers disagree on bigint).
 */
export type Row = Record<string, unknown>;

export interface Sql {
  /** Run one parameterised statement and return its rows. */
  <T = Row>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T[]>;
  /** Run statements inside one transaction; `tx` is bound to it. */
  begin<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  /** Run a multi-statement script without parameters (migrations only). */
  exec(script: string): Promise<void>;
  /** Close connections (a no-op for a shared cached client). */
  end(): Promise<void>;
  /** Which driver is underneath. */
  readonly driver: "postgres" | "pglite";
}

/** Postgres error codes that mean "the same single statement may simply be run again". */
export const RETRYABLE_CODES = new Set(["40P01", "40001"]);
