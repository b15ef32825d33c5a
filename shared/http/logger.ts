/**
 * The logging seam for the HTTP layer.
 *
 * Modules under `shared/` take a `Logger` instead of calling `console` so the
 * runtime adapter decides where lines go, and tests can capture them. Lines
 * are structured (one JSON object each) because Workers and Supabase logs are
 * searched by field, not grepped.
 *
 * Never pass secrets (API keys, Authorization headers, signing keys) in
 * `fields`: nothing here redacts them.
 */

/** Severity of one log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Writes one structured log line. */
export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

/**
 * A logger that writes one JSON line per call to the console (the only sink
 * every edge runtime has). `console` is a Web-platform global, not a runtime API.
 */
export const consoleLogger: Logger = (level, message, fields) => {
  const line = JSON.stringify({ level, message, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
};

/** A logger that drops everything (tests that assert nothing about logs). */
export const silentLogger: Logger = () => {};
