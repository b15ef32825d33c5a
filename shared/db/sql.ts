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
  /** Connected through a transaction pooler (no migrations, no session state). */
  readonly pooled?: boolean;
  /**
   * Is the database answering? Resolves true or false within `timeoutMs`
   * (never hangs, never throws). A client that got no answer treats the
   * database as down: statements fail fast until one gets through again.
   */
  ping?(timeoutMs: number): Promise<boolean>;
}

/** Postgres error codes that mean "the same single statement may simply be run again". */
export const RETRYABLE_CODES = new Set(["40P01", "40001"]);

/**
 * The database cannot serve this statement now: it did not answer in time,
 * or it is known to be down and another statement is already probing it.
 * Rendered as `503` with `Retry-After`; the client may simply retry.
 */
export class DatabaseUnavailableError extends Error {
  /** Matched by the error classifier like a socket error code. */
  readonly code = "DATABASE_UNAVAILABLE";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DatabaseUnavailableError";
  }
}
