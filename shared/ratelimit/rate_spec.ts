/**
 * A rate limit as written in the environment: `"100/60"`, 100 requests per
 * 60 seconds. Kept apart from the stores so that reading the configuration
 * does not load the Redis client.
 */

/** A rate: at most `limit` requests per `windowSeconds`. */
export interface RateSpec {
  limit: number;
  windowSeconds: number;
}

/**
 * Parse `"100/60"` (100 per 60 s; the window may be a fraction, `"5/0.5"`).
 * Empty or undefined: no limit. Anything else throws, so a typo in the
 * environment stops the function at start instead of silently not limiting.
 */
export function parseRateSpec(name: string, value: string | undefined): RateSpec | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const match = /^\s*(\d+)\s*\/\s*(\d+(?:\.\d+)?)\s*$/.exec(value);
  const limit = Number(match?.[1]);
  const windowSeconds = Number(match?.[2]);
  if (!match || !Number.isSafeInteger(limit) || !(windowSeconds > 0)) {
    throw new Error(`${name} must look like "100/60" (requests per seconds), got "${value}"`);
  }
  return { limit, windowSeconds };
}
