/**
 * A task as `POST /heartbeat` hands it to a worker (api.md, "heartbeat").
 * Its own file, free of imports, because the worker SDK package
 * (`@edgeflow/sdk`, sdk/ts) ships it and must not pull in the server.
 */
export interface ClaimedTask {
  task: string;
  lease: string;
  run_id: string;
  flow: string;
  step: string;
  handler: string;
  attempt: number;
  max_attempts: number;
  task_index: number;
  lease_expires_at: string | null;
  /**
   * W3C trace context of this attempt (`traceparent` names the run's trace and
   * the attempt's span): a handler's spans continue it (`ctx.trace`).
   */
  trace?: { traceparent: string; tracestate?: string | null };
  input: {
    run: Record<string, unknown>;
    deps: Record<string, unknown>;
    args: unknown;
    item?: unknown;
  };
  /** The waits a suspended handler has passed, in order (`ctx.waitForEvent`); absent: none. */
  waited?: { event: string; key: string; payload?: unknown; timeout?: boolean }[];
}
