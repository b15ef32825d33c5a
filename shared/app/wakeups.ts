/**
 * In-process wake-ups for long-polling heartbeats. A heartbeat that found no
 * work may wait (`wait_seconds`) for some to appear; whatever makes work in
 * this process (a trigger, a completion that enqueues dependents, the tick)
 * wakes the waiters at once. Work made by another process is found by the
 * waiters' own short poll, so this is a latency hint, never a correctness need.
 */
export class Wakeups {
  #waiters = new Set<() => void>();

  /** Resolves on the next `wake()` or after `ms`, whichever is first. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Wake every waiter: they claim again (and find nothing if the work was not theirs). */
  wake(): void {
    for (const done of [...this.#waiters]) done();
  }
}
