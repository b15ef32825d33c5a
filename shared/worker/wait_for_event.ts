/**
 * `ctx.waitForEvent` (issue 16), the durable wait of a handler, on
 * Inngest's model: the handler runs from the top on every resumption, and
 * the waits it has passed are memoized.
 *
 * A call for a wait the task has not passed yet records the request and
 * throws a `WaitSuspended`: executeTask then reports the attempt as
 * suspended (`POST /heartbeat/tasks/:task/suspend`, under the lease, fenced
 * like a completion) instead of a result, and the worker's slot is free.
 * When the event arrives (or the timeout passes) the engine queues the task
 * again with the event appended to the task's `waited` memo; the handler
 * runs again and the same call returns the event's payload (or throws
 * `WaitTimeoutError`). Waits are matched by their order in the handler, so
 * a handler must reach its waits in the same order every time.
 *
 * Code before a wait runs again on each resumption: keep it idempotent
 * (results from `ctx.runDeployment`, keys from `ctx.taskId`).
 */
import type { ClaimedTask } from "../api/claimed_task.ts";
import { NonRetryableError } from "./errors.ts";

/** Options of `ctx.waitForEvent`. */
export interface WaitForEventOptions {
  /** The event's key (default ""): only an event of this name and key ends the wait. */
  key?: string;
  /** Seconds to wait (1 – one year); then `waitForEvent` throws `WaitTimeoutError`. */
  timeout: number;
  /** `{"/json/pointer": value}`: every pointer of the payload must equal its value. */
  match?: Record<string, unknown>;
  /** Also take an event received up to this many seconds before the wait began. */
  lookback?: number;
}

/** What a suspension asks the engine for (the `wait` of the suspend call). */
export interface WaitRequest {
  seq: number;
  event: string;
  key: string;
  timeout: number;
  match?: Record<string, unknown>;
  lookback?: number;
}

/** One memoized wait, as the task document carries it in `waited`. */
export interface WaitedEntry {
  event: string;
  key: string;
  payload?: unknown;
  timeout?: boolean;
}

/** The wait timed out: no matching event arrived within `timeout` seconds. Not retried. */
export class WaitTimeoutError extends NonRetryableError {
  /** The event waited for. */
  readonly event: string;
  /** Its key. */
  readonly key: string;

  /** A timeout of the wait for `event`/`key`. */
  constructor(event: string, key: string) {
    super(`no event "${event}" with key "${key}" arrived in time`);
    this.name = "WaitTimeoutError";
    this.event = event;
    this.key = key;
  }
}

/**
 * Thrown by `waitForEvent` to end the attempt. A handler should let it
 * through; one that catches it is suspended anyway (the request is kept
 * beside the context), and its return value is ignored.
 */
export class WaitSuspended extends Error {
  /** The wait asked for. */
  readonly request: WaitRequest;

  /** A suspension for `request`. */
  constructor(request: WaitRequest) {
    super(`suspended until event "${request.event}" (key "${request.key}")`);
    this.name = "WaitSuspended";
    this.request = request;
  }
}

/** The waits of one attempt: its memo and the suspension it asked for, if any. */
export class TaskWaits {
  #seq = 0;
  /** Set by the first call beyond the memo: the attempt ends suspended. */
  requested: WaitRequest | null = null;
  readonly #waited: WaitedEntry[];

  /** The waits of `task`, from its document's `waited`. */
  constructor(task: ClaimedTask) {
    const waited = (task as { waited?: unknown }).waited;
    this.#waited = Array.isArray(waited) ? waited as WaitedEntry[] : [];
  }

  /** `ctx.waitForEvent`. */
  waitForEvent = (name: string, options: WaitForEventOptions): Promise<unknown> => {
    const seq = this.#seq++;
    const key = options.key ?? "";
    if (this.requested) {
      // A second wait after a suspension was asked for (the first was caught): same end.
      return Promise.reject(new WaitSuspended(this.requested));
    }
    const memo = this.#waited[seq];
    if (memo) {
      if (memo.event !== name || memo.key !== key) {
        return Promise.reject(
          new NonRetryableError(
            `wait ${seq} of this task was for event "${memo.event}" (key "${memo.key}"), ` +
              `this run of the handler asks for "${name}" (key "${key}"): a handler must ` +
              "reach its waits in the same order each time",
          ),
        );
      }
      if (memo.timeout) return Promise.reject(new WaitTimeoutError(name, key));
      return Promise.resolve(memo.payload ?? null);
    }
    this.requested = {
      seq,
      event: name,
      key,
      timeout: options.timeout,
      ...(options.match ? { match: options.match } : {}),
      ...(options.lookback !== undefined ? { lookback: options.lookback } : {}),
    };
    return Promise.reject(new WaitSuspended(this.requested));
  };
}
