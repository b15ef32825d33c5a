/**
 * The worker: a heartbeat loop that keeps leases, claims tasks into free
 * slots and runs their handlers (api.md, "heartbeat (the worker protocol)").
 *
 * One heartbeat is in flight at a time; every reason to beat (the interval,
 * a lease at half-life, a freed slot) only moves the one pending timer
 * earlier. A slot stays taken until the task's result is reported, not just
 * until its handler returns: the report is what enqueues dependent steps, so
 * a beat sent before it lands would find nothing and the chain would stall
 * for a whole interval. Timing rules: `schedule.ts`.
 */
import { type HeartbeatRequest, ProtocolClient, retryDelayMs } from "./client.ts";
import { ResultBatcher } from "./result_batch.ts";
import { BeatTimer } from "./beat_timer.ts";
import { startCapture, stopCapture } from "./console_capture.ts";
import { sleep } from "./deps.ts";
import {
  type HttpError,
  isKeyRefused,
  KeyRefusedError,
  startFailure,
  WorkerStartError,
} from "./errors.ts";
import { type Listener, WorkerEmitter, type WorkerEvents } from "./events.ts";
import { type ResolvedOptions, resolveOptions, type WorkerOptions } from "./options.ts";
import { leaseBoundMs, nextBeatDelay, SOON_MS } from "./schedule.ts";
import { type HeldTask, TaskSlots } from "./slots.ts";

/** Lifecycle of a worker. */
export type WorkerState = "idle" | "starting" | "running" | "stopping" | "stopped";

/** Options of `stop()`. */
export interface StopOptions {
  /**
   * How long to wait for running handlers (default: as long as they take).
   * When it runs out, their signals abort with reason `shutdown` and their
   * results are not reported; the server re-queues them when the leases expire.
   */
  timeoutMs?: number;
}

/** A running worker; made by `createWorker`. */
export interface Worker {
  /** The name it heartbeats as. */
  readonly name: string;
  /** Tasks held: handlers running or results being reported. */
  readonly running: number;
  /** Where the worker is in its lifecycle. */
  readonly state: WorkerState;
  /**
   * Sends the first heartbeat (claiming work) and starts the loop. Resolves
   * once a heartbeat succeeded; rejects with `WorkerStartError` on 401/403,
   * another 4xx, or when the server stays unreachable through `retry`.
   */
  start(): Promise<void>;
  /**
   * Stops claiming, waits for running tasks (keeping their leases), then
   * sends a last heartbeat with capacity 0. Idempotent.
   */
  stop(options?: StopOptions): Promise<void>;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends keyof WorkerEvents>(event: E, listener: Listener<E>): () => void;
}

/** Creates a worker; nothing happens until `start()`. Throws `TypeError` on bad options. */
export function createWorker(options: WorkerOptions): Worker {
  return new PollingWorker(resolveOptions(options));
}

class PollingWorker implements Worker {
  readonly #o: ResolvedOptions;
  readonly #client: ProtocolClient;
  readonly #events: WorkerEmitter;
  readonly #slots: TaskSlots;
  /** Null: a fallback runs any handler, so the heartbeat names none and gets all. */
  readonly #handlerNames: string[] | null;
  #state: WorkerState = "idle";
  #heartbeatMs: number;
  #leaseSeconds = 0;
  readonly #timer: BeatTimer;
  #capturing = false;
  #inFlight: Promise<void> | null = null;
  #failures = 0;
  #starting: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  /** Wakes `start()` from a retry sleep when `stop()` is called. */
  readonly #wake = new AbortController();
  #onDrained: (() => void) | null = null;
  /** The server holds heartbeats open until work appears (`wait_seconds`). */
  #longPoll = false;
  /** Aborts a long poll in flight when the worker stops. */
  #pollAbort: AbortController | null = null;
  #lastGot = 0;

  constructor(o: ResolvedOptions) {
    this.#o = o;
    this.#heartbeatMs = o.heartbeatMs;
    this.#handlerNames = o.fallback ? null : [...o.handlers.keys()];
    this.#client = new ProtocolClient(o);
    this.#events = new WorkerEmitter(o.logger);
    this.#timer = new BeatTimer(o.clock, () => void this.#tick());
    this.#slots = new TaskSlots({
      ...o,
      worker: o.name,
      client: this.#client,
      events: this.#events,
      reporter: o.resultBatchMs > 0
        ? new ResultBatcher(this.#client, o.clock, o.retry, o.resultBatchMs, undefined, {
          request: (freed) => this.#nextRequest(freed),
          apply: (res, sentAt) => {
            const beat = { sentAt, receivedAt: o.clock.now(), leaseSeconds: this.#leaseSeconds };
            this.#slots.applyBeat([], res, beat);
          },
        }).report
        : undefined,
      onRelease: () => {
        if (this.#slots.size === 0) this.#onDrained?.();
        // A free slot: ask for the next task (often the dependent step just enqueued).
        // None is free when a batch's `next` already filled the slots its results freed.
        if (!this.#stopping && this.#slots.free > 0) this.#timer.request(SOON_MS);
      },
    });
  }

  get name(): string {
    return this.#o.name;
  }
  get running(): number {
    return this.#slots.size;
  }
  get state(): WorkerState {
    return this.#state;
  }

  on<E extends keyof WorkerEvents>(event: E, listener: Listener<E>): () => void {
    return this.#events.on(event, listener);
  }

  start(): Promise<void> {
    if (this.#starting) return this.#starting;
    if (this.#state !== "idle") return Promise.reject(new Error(`worker is ${this.#state}`));
    this.#state = "starting";
    this.#timer.hold();
    this.#starting = this.#beginCapture().then(() => this.#firstBeat()).then(
      (got) => {
        this.#state = this.#stopping ? "stopping" : "running";
        this.#timer.settle(this.#nextDelay(got));
        this.#o.logger("info", "worker started", { worker: this.name, pool: this.#o.pool });
      },
      (err) => {
        this.#endCapture();
        this.#state = this.#stopping ? "stopped" : "idle";
        this.#starting = null;
        this.#timer.settle(null);
        throw err;
      },
    );
    return this.#starting;
  }

  stop(options: StopOptions = {}): Promise<void> {
    this.#stopping ??= this.#shutdown(options.timeoutMs);
    return this.#stopping;
  }

  async #firstBeat(): Promise<number> {
    for (let n = 1;; n++) {
      try {
        return await this.#beat();
      } catch (err) {
        const fatal = startFailure(this.#o.url, err, n, this.#o.retry.attempts);
        if (fatal) throw fatal;
        this.#o.logger("warn", "first heartbeat failed; retrying", { error: String(err) });
        await sleep(this.#o.clock, retryDelayMs(this.#o.retry, n, err), this.#wake.signal);
        if (this.#stopping) {
          throw new WorkerStartError("stopped before a heartbeat succeeded", undefined, {
            cause: err,
          });
        }
      }
    }
  }

  async #shutdown(timeoutMs: number | undefined): Promise<void> {
    const wasIdle = this.#state === "idle";
    this.#state = wasIdle ? "stopped" : "stopping";
    this.#wake.abort();
    const started = !wasIdle && await this.#starting?.then(() => true, () => false);
    if (!started) {
      this.#state = "stopped";
      return;
    }
    // A long poll would hold stop() for its whole wait: end it now.
    this.#pollAbort?.abort();
    // A beat sent before stop() may still bring tasks: they are ours, so run them too.
    await this.#inFlight;
    if (this.#slots.size === 0) this.#timer.cancel();
    if (!(await this.#drain(timeoutMs))) this.#slots.dropAll("shutdown");
    this.#state = "stopped";
    this.#timer.close();
    await this.#inFlight;
    try {
      await this.#client.heartbeat(this.#request(0, this.#slots.kept()));
    } catch (error) {
      this.#o.logger("warn", "final heartbeat failed", { worker: this.name, error: String(error) });
    }
    this.#endCapture();
    this.#o.logger("info", "worker stopped", { worker: this.name });
  }

  /** `captureConsole`: patch the console for this worker's handlers (console_capture.ts). */
  async #beginCapture(): Promise<void> {
    if (!this.#o.captureConsole || this.#capturing) return;
    this.#capturing = await startCapture();
    if (!this.#capturing) {
      this.#o.logger("warn", "captureConsole: this runtime has no AsyncLocalStorage; not captured");
    }
  }

  #endCapture(): void {
    if (this.#capturing) stopCapture();
    this.#capturing = false;
  }

  /** Resolves true once nothing is held, false when `timeoutMs` ran out first. */
  #drain(timeoutMs: number | undefined): Promise<boolean> {
    if (this.#slots.size === 0) return Promise.resolve(true);
    const { clock } = this.#o;
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined
        ? null
        : clock.setTimeout(() => finish(false), Math.max(0, timeoutMs));
      const finish = (drained: boolean) => {
        if (timer !== null) clock.clearTimeout(timer);
        this.#onDrained = null;
        resolve(drained);
      };
      this.#onDrained = () => finish(true);
    });
  }

  /**
   * `next` for a batch of completions: the slots free now plus those the
   * batch's answer frees. What it changed (tests/bench/peers/diagnose.ts
   * --only http, 8 workers, batches of 10, 3 interleaved rounds on
   * loopback): HTTP round trips per step 0.20 → 0.10 and a worker's loop
   * (complete, then claim) 48–52 → 32–40 ms; steps/s the same (1,969–2,410
   * against 2,105–2,450), as the database's CPU and WAL bound them there.
   * Over a WAN each saved round trip is the network's latency.
   */
  #nextRequest(freed: number): Record<string, unknown> | null {
    if (this.#stopping) return null;
    const capacity = Math.min(this.#o.capacity, this.#slots.free + freed);
    if (capacity <= 0) return null;
    const next: Record<string, unknown> = { worker: this.#o.name, pool: this.#o.pool, capacity };
    if (this.#handlerNames) next.handlers = this.#handlerNames;
    return next;
  }

  #request(capacity: number, kept: HeldTask[], wait = 0): HeartbeatRequest {
    const o = this.#o;
    const running = kept.map((h) => ({ task: h.task.task, lease: h.task.lease }));
    const req: HeartbeatRequest = {
      worker: o.name,
      pool: o.pool,
      capacity,
      running,
    };
    if (this.#handlerNames) req.handlers = this.#handlerNames;
    if (wait > 0) req.wait_seconds = wait;
    return req;
  }

  /**
   * Seconds to let the server hold this beat open for work: only when idle
   * slots found nothing last time, never past the idle interval, half a
   * lease, or the request timeout. A new task then starts within
   * milliseconds of being queued instead of at the next poll.
   */
  #waitSeconds(): number {
    if (!this.#longPoll || this.#stopping || this.#slots.free === 0 || this.#lastGot > 0) return 0;
    const o = this.#o;
    const kept = this.#slots.kept();
    const bound = Math.min(
      o.pollMs ?? this.#heartbeatMs,
      leaseBoundMs(o.clock.now(), kept.map((h) => h.lease.expiresAt)),
      o.requestTimeoutMs - 5_000,
      20_000,
    );
    return bound >= 1_000 ? Math.floor(bound / 1000) : 0;
  }

  /** One heartbeat; applies its answer and returns how many tasks it brought. */
  #beat(): Promise<number> {
    const { clock } = this.#o;
    const sent = this.#slots.kept();
    const sentAt = clock.now();
    const capacity = this.#stopping ? 0 : this.#slots.free;
    const wait = this.#waitSeconds();
    this.#pollAbort = wait > 0 ? new AbortController() : null;
    const req = this.#request(capacity, sent, wait);
    const run = this.#client.heartbeat(req, this.#pollAbort?.signal).then((res) => {
      this.#longPoll = res.long_poll === true;
      this.#lastGot = res.tasks.length;
      if (res.heartbeat_seconds > 0) this.#heartbeatMs = res.heartbeat_seconds * 1000;
      if (res.lease_seconds > 0) this.#leaseSeconds = res.lease_seconds;
      const beat = { sentAt, receivedAt: clock.now(), leaseSeconds: this.#leaseSeconds };
      this.#slots.applyBeat(sent, res, beat);
      return res.tasks.length;
    });
    const tracked = run.then(() => {}, () => {});
    this.#inFlight = tracked;
    void tracked.then(() => {
      if (this.#inFlight === tracked) this.#inFlight = null;
    });
    return run;
  }

  /** The loop: the timer fired. */
  async #tick(): Promise<void> {
    if (this.#state === "stopped") return;
    this.#timer.hold();
    try {
      const got = await this.#beat();
      this.#failures = 0;
      this.#timer.settle(this.#nextDelay(got));
    } catch (error) {
      if (this.#stopping && this.#pollAbort?.signal.aborted) return this.#timer.settle(null);
      if (isKeyRefused(error)) return this.#refused(error);
      // Keep going: handlers still run, and retries within half a lease keep
      // the leases alive if the server comes back in time.
      this.#failures++;
      this.#o.logger("warn", "heartbeat failed", { worker: this.name, error: String(error) });
      this.#events.emit("error", { error, during: "heartbeat" });
      // Until the server answers again, no long poll: its "ask again at once"
      // made an idle worker spin on a failing server (874 beats in 3 s, found
      // by tests/conformance). The backoff honours Retry-After, but the
      // interval and half the shortest lease still come first.
      this.#longPoll = false;
      const next = this.#nextDelay(0);
      this.#timer.settle(
        next === null ? null : Math.min(next, retryDelayMs(this.#o.retry, this.#failures, error)),
      );
    }
  }

  /** The key was refused mid-run: say so once, and stop instead of retrying forever. */
  #refused(cause: HttpError): void {
    this.#timer.settle(null);
    const error = new KeyRefusedError(this.#o.url, cause);
    this.#o.logger("error", error.message, { worker: this.name });
    this.#events.emit("fatal", { error });
    void this.stop({ timeoutMs: 0 });
  }

  /** When the next beat is due after one that brought `got` tasks (null: none needed). */
  #nextDelay(got: number): number | null {
    // A long poll already waited for work: ask again at once.
    if (this.#longPoll && got === 0 && this.#waitSeconds() > 0) return 0;
    const kept = this.#slots.kept();
    return nextBeatDelay({
      now: this.#o.clock.now(),
      heartbeatMs: this.#heartbeatMs,
      idlePollMs: this.#o.pollMs ?? this.#heartbeatMs,
      held: kept.length,
      freeSlots: this.#stopping ? 0 : this.#slots.free,
      gotTasks: got,
      leaseExpiries: kept.map((h) => h.lease.expiresAt),
      stopping: this.#stopping !== null,
    });
  }
}
