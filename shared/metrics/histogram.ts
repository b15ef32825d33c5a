/**
 * In-process latency histograms (Prometheus' cumulative buckets), kept per
 * app instance like any Prometheus client library keeps them per process: on
 * Workers and Supabase each isolate reports its own, and a scrape sees the
 * isolate that served it. What the database knows (runs, queues, workers,
 * lease expiries) is read from it at scrape time instead, so it is the same
 * from every isolate.
 */

/** Upper bounds in seconds: trigger and claim calls take 1–20 ms when healthy (quality.md). */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** One histogram: a count per bucket (non-cumulative), the sum and the count. */
export class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly buckets: readonly number[] = LATENCY_BUCKETS) {
    this.counts = buckets.map(() => 0);
  }

  /** Record one observation (seconds). */
  observe(seconds: number): void {
    const i = this.buckets.findIndex((b) => seconds <= b);
    if (i >= 0) this.counts[i]++;
    this.sum += seconds;
    this.count++;
  }

  /** Cumulative `[le, count]` pairs ending with `+Inf`. */
  cumulative(): [string, number][] {
    let running = 0;
    const out: [string, number][] = this.buckets.map((b, i) => {
      running += this.counts[i];
      return [String(b), running];
    });
    out.push(["+Inf", this.count]);
    return out;
  }
}

/** The histograms an app keeps: time to answer a trigger, time of a claim. */
export class AppMetrics {
  /** `POST /trigger/:deployment` and `/trigger/flows/:flow` that started (or found) a run. */
  readonly trigger = new Histogram();
  /** Each claim statement of a heartbeat that asked for work (long-poll waits excluded). */
  readonly claim = new Histogram();
  /** Result requests and the engine calls that carried them (shared/app/result_groups.ts). */
  readonly results = { calls: 0, requests: 0 };
}
