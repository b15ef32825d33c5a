/**
 * A run's job (`GET /heartbeat/runs/:run/job`): the deployment's job
 * variables and the flow's entrypoint and image, which say how to start a
 * task outside the worker. Validated once here; executors see typed values.
 * Cached per run: every task of a run has the same job, and a chain of 100
 * steps would otherwise ask 100 times.
 */
import { z } from "zod";
import { NonRetryableError } from "../worker/errors.ts";

/** The job variables an executor reads (Prefect's docker/process worker names). */
export const JobVariables = z.object({
  image: z.string().min(1).optional(),
  env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  volumes: z.array(z.string().min(1)).optional(),
  network: z.string().optional(),
  /** trex's PLUGINS_PULL_POLICY / Prefect's image_pull_policy. */
  pull_policy: z.string().optional(),
  image_pull_policy: z.string().optional(),
  /** Replaces the runner: a string split on spaces, or an argv array. */
  command: z.union([z.string().min(1), z.array(z.string())]).optional(),
  /** The process executor's working directory (Prefect's `working_dir`). */
  working_dir: z.string().min(1).optional(),
}).passthrough();

/** Parsed job variables. */
export type JobVariables = z.infer<typeof JobVariables>;

/** What the server says about a run's job. */
export interface RunJob {
  run_id: string;
  flow: string;
  deployment: string | null;
  entrypoint: string | null;
  image: string | null;
  job: JobVariables;
}

/** Where and how to ask. */
export interface JobSource {
  url: string;
  key: string;
  fetch: typeof fetch;
}

const CACHED_RUNS = 256;

/** Returns `runJob(runId, signal)`, caching the answers of the last 256 runs. */
export function jobReader(
  src: JobSource,
): (runId: string, signal?: AbortSignal) => Promise<RunJob> {
  const cache = new Map<string, RunJob>();
  const base = src.url.replace(/\/+$/, "");
  return async (runId, signal) => {
    const hit = cache.get(runId);
    if (hit) return hit;
    const res = await src.fetch(`${base}/heartbeat/runs/${encodeURIComponent(runId)}/job`, {
      headers: { Authorization: `Bearer ${src.key}` },
      signal,
    });
    const text = await res.text();
    // A 5xx or a network error is thrown as is: retryable, the attempt is retried.
    if (res.status >= 500) throw new Error(`GET /heartbeat/runs/${runId}/job: ${res.status}`);
    if (!res.ok) {
      throw new NonRetryableError(
        `the server has no job for run ${runId} (${res.status}): is it older than this worker?`,
      );
    }
    const body = JSON.parse(text) as Omit<RunJob, "job"> & { job_variables: unknown };
    const parsed = JobVariables.safeParse(body.job_variables ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new NonRetryableError(
        `deployment ${body.deployment}: job_variables.${issue.path.join(".")}: ${issue.message}`,
      );
    }
    const job: RunJob = {
      run_id: body.run_id,
      flow: body.flow,
      deployment: body.deployment,
      entrypoint: body.entrypoint,
      image: body.image,
      job: parsed.data,
    };
    if (cache.size >= CACHED_RUNS) cache.delete(cache.keys().next().value!);
    cache.set(runId, job);
    return job;
  };
}
