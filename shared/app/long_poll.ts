/**
 * The waiting half of a long-polling heartbeat: no work yet, and the worker
 * is willing to wait `wait_seconds` for some. Nothing is ever claimed for a
 * client that has left: the connection is checked right before each claim,
 * and what was claimed while it left is handed back at once (lease released,
 * attempt not counted).
 *
 * Two ways to answer:
 * - `waitForWork`, awaited by the route: the runtime aborts the request's
 *   signal when the client disconnects (Deno's serve, Supabase).
 * - `streamedLongPoll`: the answer's headers go out at once and a space is
 *   written right before each claim (JSON allows leading whitespace): at most
 *   four bytes a second, and a client gone since the last look is seen before
 *   anything is claimed for it.
 *   workerd aborts `request.signal` (flag `enable_request_signal`) only while
 *   a response body is streaming: a plain awaited handler never saw its client
 *   leave there (24 of 24 checks under wrangler dev and miniflare said
 *   "not aborted" after the client was gone; a streamed answer saw it within
 *   one write). A failed write counts as the client having left too.
 *
 * Deno's serve has a blind spot of its own: when a request's head and body
 * reached it in two reads (Python's `http.client` writes them separately),
 * the signal did not fire for a client that left during the wait (19 of 20
 * polls ran their full wait; 0 of 20 when the request came in one write).
 * The Python SDK sends each request in one write (docs/worker-protocol.md,
 * "Long poll"), and the Deno runtime (shared/runtime/deno_deps.ts) streams
 * long polls as Workers do, so any other client is seen on the next write.
 */
import type { ClaimedTask } from "../engine/tasks.ts";
import type { Wakeups } from "./wakeups.ts";

/**
 * How often a waiting heartbeat looks for work made by other processes. On
 * Supabase every function is its own isolate and the pooler passes no LISTEN,
 * so this poll is the cross-process wake-up. Measured through pgbouncer
 * (tests/smoke/supabase_smoke.ts): a trigger in another process reached a
 * waiting poll in 164–637 ms end to end, and waiting costs ~6 CPU ms per
 * second (~120 ms for a 20 s poll, of Supabase's 2 s CPU budget).
 */
export const POLL_MS = 250;

export interface LongPoll {
  /** Seconds to wait at most. */
  seconds: number;
  /** Aborted when the client disconnects. */
  gone: AbortSignal;
  wakeups: Wakeups;
  claim(): Promise<ClaimedTask[]>;
  handBack(tasks: ClaimedTask[]): Promise<void>;
}

/** Wait for work and claim it; tasks claimed for a client that left are handed back. */
export async function waitForWork(
  p: LongPoll,
  left: () => boolean = () => p.gone.aborted,
  idle: () => Promise<void> = async () => {},
): Promise<ClaimedTask[]> {
  const until = Date.now() + p.seconds * 1000;
  let tasks: ClaimedTask[] = [];
  while (!tasks.length && Date.now() < until && !left()) {
    await p.wakeups.wait(Math.min(POLL_MS, until - Date.now()), p.gone);
    await idle();
    // Checked right before each claim: nothing is claimed for a client that left.
    if (left()) break;
    tasks = await p.claim();
  }
  if (tasks.length && left()) {
    // The client left while we claimed: nobody can receive these tasks. Give
    // them back now rather than let them sit out a lease and burn an attempt.
    await p.handBack(tasks);
    tasks = [];
  }
  return tasks;
}

/**
 * The long poll as a streamed `200` answer (Workers). `render` builds the
 * heartbeat's JSON from the tasks; a claim that fails mid-wait ends the poll
 * with no tasks (the worker simply polls again: its heartbeat itself already
 * succeeded). `keep` holds the request's resources (its database client)
 * until the answer is written.
 */
export function streamedLongPoll(
  p: LongPoll,
  render: (tasks: ClaimedTask[]) => unknown,
  keep: (work: Promise<unknown>) => void,
  onError: (err: unknown) => void,
): Response {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  let broken = false;
  const write = async (text: string) => {
    try {
      await writer.write(encoder.encode(text));
    } catch {
      broken = true;
    }
  };
  const left = () => broken || p.gone.aborted;
  const work = (async () => {
    let tasks: ClaimedTask[] = [];
    try {
      tasks = await waitForWork(p, left, () => write(" "));
    } catch (err) {
      onError(err);
    }
    await write(JSON.stringify(render(tasks)));
    if (broken && tasks.length) {
      // The answer could not be written: these tasks never reached the worker.
      await p.handBack(tasks).catch(onError);
    }
    await writer.close().catch(() => {});
  })();
  keep(work);
  return new Response(readable, {
    status: 200,
    headers: { "content-type": "application/json; charset=UTF-8", "cache-control": "no-store" },
  });
}
