/**
 * The tasks a worker holds, and the slots they take.
 *
 * A task takes a slot from the heartbeat that claims it until its result is
 * reported (or it is dropped and its handler has returned). Handlers never
 * outnumber `capacity`: a server that sends more tasks than were asked for
 * gets the extra ones queued here — their leases kept by heartbeats — rather
 * than run over the limit or dropped.
 */
import type { ClaimedTask, HeartbeatResponse, ProtocolClient, RetryPolicy } from "./client.ts";
import { createTaskContext, type Handler } from "./context.ts";
import type { Clock, Logger } from "./deps.ts";
import { type AbortReason, TaskAbortedError } from "./errors.ts";
import type { WorkerEmitter } from "./events.ts";
import { executeTask } from "./execute.ts";
import type { Reporter } from "./result_batch.ts";
import { LogShipper } from "./log_shipper.ts";
import { withConsoleSink } from "./console_capture.ts";
import { leaseAfterBeat, type LeaseClock, leaseFromClaim } from "./schedule.ts";

/** A task this worker holds. `dropped`: cancelled, lost or shut down — never reported. */
export interface HeldTask {
  task: ClaimedTask;
  controller: AbortController;
  lease: LeaseClock;
  phase: "queued" | "active" | "reporting";
  dropped: boolean;
}

/** What the slots need from the worker. */
export interface SlotDeps {
  worker: string;
  capacity: number;
  handlers: Map<string, Handler>;
  /** Runs any handler not in `handlers` (null: such a task fails, not retried). */
  fallback: Handler | null;
  client: ProtocolClient;
  clock: Clock;
  retry: RetryPolicy;
  logger: Logger;
  events: WorkerEmitter;
  /** How results are sent (default: one call each). */
  reporter?: Reporter;
  /** A slot was freed (the worker asks for work soon, or finishes draining). */
  onRelease: () => void;
  /** Ship `ctx.log` lines to the control plane (default true); the flush delay in ms. */
  shipLogs?: { flushMs: number } | false;
  /** Handlers' console output goes to their task's lines too (the worker patched the console). */
  captureConsole?: boolean;
}

/** The held tasks of one worker. */
export class TaskSlots {
  readonly #held = new Set<HeldTask>();

  readonly deps: SlotDeps;

  /** Empty slots, `deps.capacity` of them. */
  constructor(deps: SlotDeps) {
    this.deps = deps;
  }

  /** Tasks held: queued, running, reporting, or dropped with their handler still running. */
  get size(): number {
    return this.#held.size;
  }

  /** Slots free for new tasks. */
  get free(): number {
    return Math.max(0, this.deps.capacity - this.#held.size);
  }

  /** Tasks whose leases are still ours: sent in `running` and kept alive by heartbeats. */
  kept(): HeldTask[] {
    return [...this.#held].filter((h) => !h.dropped);
  }

  /**
   * Applies a heartbeat's answer: tasks of `sent` come back `lost` or
   * `cancel`led, or have had their leases kept; new tasks are taken and started.
   */
  applyBeat(
    sent: HeldTask[],
    res: HeartbeatResponse,
    beat: { sentAt: number; receivedAt: number; leaseSeconds: number },
  ): void {
    const lost = new Set(res.lost), cancel = new Set(res.cancel);
    for (const h of sent) {
      if (h.dropped) continue;
      // A result already on its way may cross this beat: the server saw the
      // task finished and calls it lost. The report's own answer settles it.
      if (h.phase === "reporting") continue;
      // Lost wins over cancelled: either way the result is no longer wanted.
      if (lost.has(h.task.task)) this.drop(h, "lost");
      else if (cancel.has(h.task.task)) this.drop(h, "cancelled");
      else h.lease = leaseAfterBeat(h.lease, beat.sentAt);
    }
    for (const task of res.tasks) {
      const lease = leaseFromClaim(task.lease_expires_at, beat);
      const controller = new AbortController();
      this.#held.add({ task, controller, lease, phase: "queued", dropped: false });
    }
    this.#pump();
  }

  /**
   * Aborts a task's signal; its result will not be reported and its lease
   * is no longer sent. It keeps its slot until the handler returns.
   */
  drop(h: HeldTask, reason: AbortReason): void {
    if (h.dropped) return;
    h.dropped = true;
    h.controller.abort(new TaskAbortedError(reason));
    this.deps.logger("info", `task ${reason}`, { task: h.task.task, run: h.task.run_id });
    this.deps.events.emit("task:aborted", { task: h.task, reason });
    if (h.phase === "queued") this.#release(h);
  }

  /** Drops every held task (`stop()` ran out of time). */
  dropAll(reason: AbortReason): void {
    for (const h of [...this.#held]) this.drop(h, reason);
  }

  /** Starts queued tasks while fewer than `capacity` are active. */
  #pump(): void {
    let active = 0;
    for (const h of this.#held) if (h.phase !== "queued") active++;
    for (const h of this.#held) {
      if (active >= this.deps.capacity) return;
      if (h.phase !== "queued" || h.dropped) continue;
      h.phase = "active";
      active++;
      void this.#run(h);
    }
  }

  async #run(h: HeldTask): Promise<void> {
    const { task } = h;
    const d = this.deps;
    d.events.emit("task:start", { task });
    const shipper = d.shipLogs === false ? null : new LogShipper({
      client: d.client,
      clock: d.clock,
      logger: d.logger,
      task: task.task,
      lease: task.lease,
      flushMs: d.shipLogs?.flushMs,
    });
    const ship = shipper ? shipper.push.bind(shipper) : undefined;
    const ctx = createTaskContext(task, h.controller.signal, { ...d, ship });
    try {
      const end = await executeTask(
        task,
        d.handlers.get(task.handler) ?? d.fallback ?? undefined,
        ctx,
        {
          ...d,
          onSettled: () => {
            h.phase = "reporting";
          },
          beforeReport: shipper ? () => shipper.flush() : undefined,
          runHandler: shipper && d.captureConsole
            ? (fn) => withConsoleSink((level, message) => shipper.push(level, message), fn)
            : undefined,
        },
      );
      if (end.status === "completed") {
        d.events.emit("task:done", { task, output: end.output, report: end.report });
      } else if (end.status === "failed") {
        d.events.emit("task:failed", { task, error: end.error, report: end.report });
      } else if (end.status === "suspended") {
        d.events.emit("task:suspended", {
          task,
          event: end.wait.event,
          key: end.wait.key,
          report: end.report,
        });
      }
    } catch (error) {
      // executeTask catches handler errors; reaching here is a bug in the SDK.
      d.logger("error", "task execution crashed", { task: task.task, error: String(error) });
    } finally {
      this.#release(h);
    }
  }

  #release(h: HeldTask): void {
    if (!this.#held.delete(h)) return;
    this.#pump();
    this.deps.onRelease();
  }
}
