/**
 * How a step's work is counted for people. The run document's `attempts` is the sum of its tasks'
 * attempts, so a map step of 3 tasks that never failed has 3 — read as "attempts" that looks like
 * two retries. Views show `tasks` and `retries` (attempts beyond each task's first) instead.
 */

/** Retries of a step: attempts beyond the first of each task that has started. */
export function retriesOf(step: { attempts?: number | null; tasks?: number | null }): number {
  return Math.max(0, (step.attempts ?? 0) - (step.tasks ?? 0));
}
