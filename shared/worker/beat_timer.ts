/**
 * The one pending heartbeat of a worker.
 *
 * Many things want a beat — the interval, a lease at half-life, a freed
 * slot, a backlog — and each only moves the pending beat *earlier*, so they
 * coalesce into one request instead of a burst. While a beat is in flight
 * (`hold`), wishes are remembered and honoured when it ends (`settle`):
 * there is never more than one heartbeat on the wire, so the server never
 * sees two claims from the same worker race each other.
 */
import type { Clock, TimerHandle } from "./deps.ts";

/** A single, movable, single-flight timer. */
export class BeatTimer {
  #handle: TimerHandle | null = null;
  #due = Infinity;
  #holding = false;
  #wantAt = Infinity;
  #closed = false;
  readonly clock: Clock;
  readonly fire: () => void;

  /** `fire` is called when the beat is due; it should `hold()` and later `settle()`. */
  constructor(clock: Clock, fire: () => void) {
    this.clock = clock;
    this.fire = fire;
  }

  /** Beat within `delayMs`: sooner than already planned, never later. */
  request(delayMs: number): void {
    if (this.#closed) return;
    const due = this.clock.now() + delayMs;
    if (this.#holding) {
      this.#wantAt = Math.min(this.#wantAt, due);
      return;
    }
    if (this.#handle !== null) {
      if (due >= this.#due) return;
      this.clock.clearTimeout(this.#handle);
    }
    this.#due = due;
    this.#handle = this.clock.setTimeout(() => {
      this.#handle = null;
      this.#due = Infinity;
      this.fire();
    }, Math.max(0, delayMs));
  }

  /** A beat is going out: keep requests until it ends. */
  hold(): void {
    this.#holding = true;
  }

  /**
   * The beat ended: the next one is due within `delayMs` (null: none is
   * needed), or sooner if something asked for it meanwhile.
   */
  settle(delayMs: number | null): void {
    this.#holding = false;
    const wanted = Math.max(0, this.#wantAt - this.clock.now());
    this.#wantAt = Infinity;
    const delay = Math.min(delayMs ?? Infinity, wanted);
    if (delay < Infinity) this.request(delay);
  }

  /** Forgets the pending beat (nothing needs one now). */
  cancel(): void {
    if (this.#handle !== null) this.clock.clearTimeout(this.#handle);
    this.#handle = null;
    this.#due = Infinity;
  }

  /** Cancels and ignores every later request. */
  close(): void {
    this.cancel();
    this.#closed = true;
    this.#wantAt = Infinity;
  }
}
