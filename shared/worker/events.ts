/**
 * The worker's events, for metrics and logs in the embedding program.
 *
 * A tiny typed emitter instead of `EventTarget`: listeners get plain typed
 * payloads (no `CustomEvent` casts), and a listener that throws is logged
 * instead of breaking the worker loop that emitted.
 */
import type { ClaimedTask, ReportOutcome } from "./client.ts";
import type { Logger } from "./deps.ts";
import type { AbortReason, KeyRefusedError, ReportedError } from "./errors.ts";

/** Event names and their payloads. */
export interface WorkerEvents {
  /** A handler was called. */
  "task:start": { task: ClaimedTask };
  /** A handler returned; `report` says whether the server took the output. */
  "task:done": { task: ClaimedTask; output: unknown; report: ReportOutcome };
  /** A handler threw (or its output was unusable); `report` as for `task:done`. */
  "task:failed": { task: ClaimedTask; error: ReportedError; report: ReportOutcome };
  /** The handler called `ctx.waitForEvent`: the attempt ended suspended until the event. */
  "task:suspended": { task: ClaimedTask; event: string; key: string; report: ReportOutcome };
  /** The task's signal was aborted: cancelled run, lost lease or `stop()` timeout. */
  "task:aborted": { task: ClaimedTask; reason: AbortReason };
  /** The server refused the key mid-run: the worker stopped itself and will not retry. */
  "fatal": { error: KeyRefusedError };
  /** Something failed that the worker recovers from by itself (a heartbeat, mostly). */
  "error": { error: unknown; during: "heartbeat" | "listener" };
}

/** A listener of event `E`. */
export type Listener<E extends keyof WorkerEvents> = (payload: WorkerEvents[E]) => void;

/** Subscribes and emits `WorkerEvents`. */
export class WorkerEmitter {
  readonly #listeners = new Map<keyof WorkerEvents, Set<(payload: never) => void>>();

  readonly #logger: Logger;

  /** `logger` receives the errors of listeners that throw. */
  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof WorkerEvents>(event: E, listener: Listener<E>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, set = new Set());
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Calls the listeners of `event` synchronously, in subscription order. */
  emit<E extends keyof WorkerEvents>(event: E, payload: WorkerEvents[E]): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        (listener as Listener<E>)(payload);
      } catch (error) {
        this.#logger("error", `a "${event}" listener threw`, { error: String(error) });
        if (event !== "error") this.emit("error", { error, during: "listener" });
      }
    }
  }
}
