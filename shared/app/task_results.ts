/**
 * Results of tasks (`complete`, `fail`), one at a time and in batches: the one
 * place an engine refusal becomes a problem, and the batched routes.
 *
 * A batch is fenced per entry: each result is accepted or refused exactly as
 * its own `POST /heartbeat/tasks/:task/{complete,fail}` would be, and answered
 * in place (docs/worker-protocol.md, "Many results in one call, and the next
 * tasks with them"; an extension of ../shared/spec/api.md). The whole batch is
 * one engine call, one transaction, committed (durable) before the answer;
 * with `next` (on either route), the worker's claim is in that transaction
 * too. Requests that arrive while the process's result calls are busy share
 * one call (shared/app/result_groups.ts), each still answered as alone. A
 * body that does not validate is refused whole (422 naming the entry's field)
 * and changes nothing.
 */
import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import type { AppDeps, AppEnv } from "./deps.ts";
import { clientSignal, readJsonAs } from "../http/body.ts";
import { type ApiError, type ProblemDocument, problemDocument } from "../http/problem.ts";
import { refusalError } from "./refusals.ts";
import { type ClaimNextInput, CompleteBatchBody, FailBatchBody } from "../api/schemas.ts";
import { handBackClaims, type HeartbeatResult, type ResultOutcome } from "../engine/tasks.ts";
import { type BeatAnswer, beatAnswer, beatInput, workerNameTaken } from "./worker_beat.ts";
import type { GroupClaim } from "../engine/batch.ts";
import { DEFAULT_RESULT_CALLS } from "./deps.ts";
import { resultGroupsOf, type ResultRequest, sendAlone } from "./result_groups.ts";
import type { Wakeups } from "./wakeups.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A lease we never issued cannot be current: such an entry is refused without a lookup. */
export function isIssuedLease(lease: string): boolean {
  return UUID.test(lease);
}

/** The problem an engine refusal of a result is (its code from shared/app/refusals.ts). */
export function refusal(outcome: ResultOutcome, task: string): ApiError {
  const code = "error" in outcome ? outcome.error : "stale_lease";
  switch (code) {
    case "not_found":
      return refusalError(code, `no task ${task}`);
    case "run_not_running":
      return refusalError(
        code,
        `the run is ${"status" in outcome ? outcome.status : "over"}: the result was not accepted`,
      );
    default:
      return refusalError(code, "this lease is not the task's current one; nothing changed");
  }
}

/** `next` of a batch's answer: a heartbeat's answer without a long poll, or its refusal. */
export type NextAnswer = BeatAnswer | ProblemDocument;

/**
 * `next` of a batch's answer from the claim made with its results
 * (edgeflow.complete_tasks_and_claim: one transaction, one commit). A client
 * that left meanwhile is given nothing: what it was leased goes back at once.
 * It halves the round trips of a busy worker (0.20 → 0.10 per step in
 * tests/bench/peers/diagnose.ts); one transaction with the results instead of
 * a second one changed steps/s by nothing measurable (the SQL function's figures).
 */
async function nextAnswer(
  deps: AppDeps,
  c: Context<AppEnv>,
  beat: HeartbeatResult | { error: "worker_name_taken" },
  worker: string,
  claimAt: number,
  claimWall: number | undefined,
): Promise<NextAnswer> {
  if ("error" in beat) return problemDocument(workerNameTaken(worker));
  deps.metrics?.claim.observe((performance.now() - claimAt) / 1000);
  let tasks = beat.tasks;
  if (clientSignal(c).aborted && tasks.length) {
    await handBackClaims(deps.sql(c), tasks.map((t) => ({ task: t.task, lease: t.lease })));
    tasks = [];
  } else if (claimWall) deps.tracer!.claimed(deps, c, tasks, claimWall);
  return beatAnswer(deps, beat, tasks, false);
}

/** One answer of a batch: the single route's `200` body, or its problem, with the task. */
export type BatchItem =
  | ({ task: string; status: 200 } & Extract<ResultOutcome, { ok: true }>)
  | ({ task: string } & ProblemDocument);

function item(task: string, outcome: ResultOutcome): BatchItem {
  if ("error" in outcome) return { task, ...problemDocument(refusal(outcome, task)) };
  return { ...outcome, task, status: 200 };
}

/**
 * Sends the entries with an issued lease (by their index) to `apply` in one
 * call and answers every entry in the order given (entries with a foreign
 * lease: stale).
 */
async function answer(
  entries: { task: string; lease: string }[],
  apply: (issued: number[]) => Promise<ResultOutcome[]>,
): Promise<BatchItem[]> {
  const issued = entries.flatMap((e, i) => isIssuedLease(e.lease) ? [i] : []);
  const outcomes = await apply(issued);
  const byEntry = new Map(issued.map((e, i) => [e, outcomes[i]]));
  return entries.map((e, i) => item(e.task, byEntry.get(i) ?? { error: "stale_lease" }));
}

/** The tasks of a batch whose results were accepted (their spans are exported). */
function accepted(answers: BatchItem[]): string[] {
  return answers.filter((a) => a.status === 200).map((a) => a.task);
}

/** `POST /heartbeat/tasks/complete` and `POST /heartbeat/tasks/fail`. */
export function resultBatchRoutes(
  deps: AppDeps,
  scope: MiddlewareHandler<AppEnv>,
  wakeups: Wakeups,
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const groupsOf = resultGroupsOf(
    deps.config.resultCalls ?? DEFAULT_RESULT_CALLS,
    deps.metrics!.results,
  );

  /**
   * The shared body of both routes: the results in one engine call, with the
   * worker's next claim in its transaction when the body asks for `next`;
   * grouped with other requests' when they arrive while the process's result
   * calls are busy (shared/app/result_groups.ts).
   */
  const route = async (
    kind: "complete" | "fail",
    c: Context<AppEnv>,
    body: { results: { task: string; lease: string }[]; next?: ClaimNextInput },
    request: (issued: number[], claim?: GroupClaim) => ResultRequest,
  ) => {
    const startMs = deps.tracer && (deps.now?.() ?? new Date()).getTime();
    const { results, next } = body;
    const claimAt = performance.now();
    const claimWall = next && deps.tracer ? (deps.now?.() ?? new Date()).getTime() : undefined;
    let beat: HeartbeatResult | { error: "worker_name_taken" } | undefined;
    const answers = await answer(results, async (issued) => {
      // The tasks this batch makes ready (dependents, or retries due at once)
      // are its worker's to claim first (`next`, in the same transaction);
      // other waiting workers are woken after.
      const claim = next && beatInput(deps, c, {
        worker: next.worker,
        pool: next.pool,
        handlers: next.handlers ?? null,
        capacity: clientSignal(c).aborted ? 0 : next.capacity,
      });
      const r = request(issued, claim);
      const sql = deps.sql(c);
      const groups = groupsOf(sql);
      const reply = groups ? await groups.send(r) : await sendAlone(sql, r);
      beat = reply.next;
      return reply.outcomes;
    });
    if (startMs) deps.tracer!.finished(deps, c, kind, accepted(answers), startMs);
    const claimed = next && beat &&
      await nextAnswer(deps, c, beat, next.worker, claimAt, claimWall);
    if (answers.some((a) => a.status === 200)) wakeups.wake();
    return c.json(claimed ? { results: answers, next: claimed } : { results: answers });
  };

  app.post("/heartbeat/tasks/complete", scope, async (c) => {
    const body = await readJsonAs(c, CompleteBatchBody);
    return await route("complete", c, body, (issued, claim) => ({
      kind: "complete",
      entries: issued.map((i) => body.results[i]),
      claim,
    }));
  });

  app.post("/heartbeat/tasks/fail", scope, async (c) => {
    const body = await readJsonAs(c, FailBatchBody);
    return await route("fail", c, body, (issued, claim) => ({
      kind: "fail",
      entries: issued.map((i) => {
        const { task, lease, error: { retryable, ...error } } = body.results[i];
        return { task, lease, error, retryable };
      }),
      claim,
    }));
  });

  return app;
}
