/**
 * Result requests grouped into one engine call: group commit for
 * `POST /heartbeat/tasks/complete` and `…/fail`.
 *
 * A process sends at most `calls` result calls to the database at once. A
 * request that finds a call free goes at once, alone, as it always did (no
 * wait, no timer). Requests that arrive while every call is busy wait for the
 * first to come back, then go together in one call and one transaction
 * (edgeflow.results_and_claims): their completions, their failures and each
 * worker's `next` claim, every entry fenced and answered exactly as in its own
 * call, committed before any of them is answered. Nothing waits that would not
 * have waited anyway: with `calls` busy, the database is the queue.
 *
 * A group's call that fails (a deadlock, a statement timeout, a bad entry
 * that raises) is not the others' failure: each of its requests is then sent
 * alone and gets its own answer or error.
 *
 * Only requests on one database client group (resultGroupsOf): on
 * Workers each request has a client of its own, so nothing groups there (a
 * Worker may not use another request's connection); on Deno, Supabase and
 * PGlite the process shares one.
 *
 * Figure that decided it (tests/bench/peers/diagnose.ts, 1,500 chains of 3, 8
 * workers over HTTP, one round each): 10 tasks per call ran 3,010 steps/s at
 * 471 µs of backend CPU per step; 40 per call 5,272 steps/s at 293 µs. What
 * a call costs whatever its size (statement start-up, run locks, the
 * commit's WAL flush, a claim's set-up) is shared by the requests in it; the
 * SQL function's comment has the halves apart. Grouped, with
 * EDGEFLOW_RESULT_CALLS 0 and 2 alternated: 451–682 µs of backend CPU per
 * step ungrouped, 387–453 µs grouped. `deno task bench --peers` prints both
 * (`edgeflow.http` and `edgeflow.http.ungrouped`).
 */
import type { Sql } from "../db/sql.ts";
import {
  completeTasks,
  completeTasksAndClaim,
  failTasks,
  failTasksAndClaim,
  type GroupClaim,
  resultsAndClaims,
  type ResultsAndNext,
  type TaskFailure,
  type TaskResult,
} from "../engine/batch.ts";
import type { ResultOutcome } from "../engine/tasks.ts";

/** One request's results (of one kind) and, with `next`, its worker's claim. */
export type ResultRequest =
  | { kind: "complete"; entries: TaskResult[]; claim?: GroupClaim }
  | { kind: "fail"; entries: TaskFailure[]; claim?: GroupClaim };

/** What the request would have had from its own call. */
export interface ResultReply {
  outcomes: ResultOutcome[];
  next?: ResultsAndNext["next"];
}

/** Calls and requests sent, for `/metrics` (`edgeflow_result_calls_total`, `…_requests_total`). */
export interface ResultCounts {
  calls: number;
  requests: number;
}

interface Waiting {
  request: ResultRequest;
  resolve: (reply: ResultReply) => void;
  reject: (err: unknown) => void;
}

/** The most entries one group carries: a bigger group waits for the next call. */
export const GROUP_ENTRIES = 500;

/** One request alone, on the path it always took (a group of one is this too). */
export async function sendAlone(sql: Sql, r: ResultRequest): Promise<ResultReply> {
  if (r.kind === "complete") {
    if (!r.claim) return { outcomes: await completeTasks(sql, r.entries) };
    const done = await completeTasksAndClaim(sql, r.entries, r.claim);
    return { outcomes: done.outcomes, next: done.next };
  }
  if (!r.claim) return { outcomes: await failTasks(sql, r.entries) };
  const done = await failTasksAndClaim(sql, r.entries, r.claim);
  return { outcomes: done.outcomes, next: done.next };
}

function size(r: ResultRequest): number {
  return r.entries.length + (r.claim ? 1 : 0);
}

export class ResultGroups {
  #busy = 0;
  #waiting: Waiting[] = [];

  constructor(
    readonly sql: Sql,
    readonly calls: number,
    readonly counts: ResultCounts = { calls: 0, requests: 0 },
  ) {}

  send(request: ResultRequest): Promise<ResultReply> {
    // Nothing to send (every lease was foreign, and no `next`): no call.
    if (!request.entries.length && !request.claim) return Promise.resolve({ outcomes: [] });
    return new Promise((resolve, reject) => {
      this.#waiting.push({ request, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#busy < this.calls && this.#waiting.length) {
      const group: Waiting[] = [this.#waiting.shift()!];
      let entries = size(group[0].request);
      while (this.#waiting.length && entries + size(this.#waiting[0].request) <= GROUP_ENTRIES) {
        const next = this.#waiting.shift()!;
        entries += size(next.request);
        group.push(next);
      }
      this.#busy++;
      this.#run(group).finally(() => {
        this.#busy--;
        this.#pump();
      });
    }
  }

  async #run(group: Waiting[]): Promise<void> {
    this.counts.calls++;
    this.counts.requests += group.length;
    if (group.length === 1) {
      const [w] = group;
      await sendAlone(this.sql, w.request).then(w.resolve, w.reject);
      return;
    }
    let replies: ResultReply[];
    try {
      replies = await this.#together(group.map((w) => w.request));
    } catch {
      // Each alone, so that one request's failure stays its own.
      this.counts.calls += group.length;
      await Promise.all(group.map((w) => sendAlone(this.sql, w.request).then(w.resolve, w.reject)));
      return;
    }
    group.forEach((w, i) => w.resolve(replies[i]));
  }

  async #together(requests: ResultRequest[]): Promise<ResultReply[]> {
    const completions: TaskResult[] = [];
    const failures: TaskFailure[] = [];
    const claims: GroupClaim[] = [];
    for (const r of requests) {
      if (r.kind === "complete") completions.push(...r.entries);
      else failures.push(...r.entries);
      if (r.claim) claims.push(r.claim);
    }
    const answer = await resultsAndClaims(this.sql, completions, failures, claims);
    let done = 0, failed = 0, claimed = 0;
    return requests.map((r) => {
      const n = r.entries.length;
      const outcomes = r.kind === "complete"
        ? answer.completed.slice(done, done += n)
        : answer.failed.slice(failed, failed += n);
      return r.claim ? { outcomes, next: answer.next[claimed++] } : { outcomes };
    });
  }
}

/**
 * The groups of one app, per database client (`calls` at once each); `calls`
 * 0: none, every request is sent alone.
 */
export function resultGroupsOf(
  calls: number,
  counts: ResultCounts,
): (sql: Sql) => ResultGroups | null {
  const byClient = new WeakMap<Sql, ResultGroups>();
  return (sql) => {
    if (calls <= 0) return null;
    let groups = byClient.get(sql);
    if (!groups) {
      groups = new ResultGroups(sql, calls, counts);
      byClient.set(sql, groups);
    }
    return groups;
  };
}
