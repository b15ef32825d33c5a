/**
 * A worker's heartbeat as the calling key, and the answer it gets: shared by
 * `POST /heartbeat` and the claim a batch of completions asks for (`next`).
 */
import type { Context } from "hono";
import type { AppDeps, AppEnv } from "./deps.ts";
import type { ApiError } from "../http/problem.ts";
import { refusalError } from "./refusals.ts";
import {
  type ClaimedTask,
  heartbeat,
  type HeartbeatInput,
  type HeartbeatResult,
} from "../engine/tasks.ts";

/** Another key first used this worker name (migration 0067). */
export function workerNameTaken(worker: string): ApiError {
  return refusalError(
    "worker_name_taken",
    `the worker name "${worker}" belongs to another API key; choose another name ` +
      "(or revoke the key that registered it)",
    [{ path: "worker", message: "already registered by another API key" }],
  );
}

/** A heartbeat of `beat.worker` as the request's key, with the configured interval. */
export function beatInput<B extends Partial<HeartbeatInput>>(
  deps: AppDeps,
  c: Context<AppEnv>,
  beat: B,
): B & Pick<HeartbeatInput, "caller" | "heartbeatSeconds"> {
  const principal = c.get("principal");
  return {
    ...beat,
    caller: { id: principal.id, admin: principal.scopes.includes("admin") },
    heartbeatSeconds: deps.config.heartbeatSeconds,
  };
}

/** The heartbeat of `beat.worker` as the request's key (refused when another key owns the name). */
export function beatAs(
  deps: AppDeps,
  c: Context<AppEnv>,
  beat: Omit<HeartbeatInput, "caller" | "heartbeatSeconds">,
): Promise<HeartbeatResult | { error: "worker_name_taken" }> {
  return heartbeat(deps.sql(c), beatInput(deps, c, beat));
}

/** What a heartbeat answers (`lost` also names the leases never issued, `foreign`). */
export interface BeatAnswer {
  long_poll: boolean;
  lease_seconds: number;
  heartbeat_seconds: number;
  tasks: ClaimedTask[];
  cancel: string[];
  lost: string[];
}

export function beatAnswer(
  deps: AppDeps,
  result: Pick<HeartbeatResult, "cancel" | "lost">,
  tasks: ClaimedTask[],
  longPoll: boolean,
  foreign: string[] = [],
): BeatAnswer {
  return {
    long_poll: longPoll,
    lease_seconds: deps.config.leaseSeconds,
    heartbeat_seconds: deps.config.heartbeatSeconds,
    tasks,
    cancel: result.cancel,
    lost: [...result.lost, ...foreign],
  };
}
