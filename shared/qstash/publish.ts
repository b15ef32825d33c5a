/**
 * The few QStash calls edgeflow makes: a delayed message (a run's precise
 * `start_delay`, a retry's backoff, push delivery to an HTTP worker) and cron
 * schedules that call back into `/trigger`. A thin layer over the official
 * `Client`, so the wire format stays Upstash's problem, not ours.
 *
 * The client is built from values passed in (never from the runtime environment):
 * `baseUrl` comes from `QSTASH_URL`, which is also how tests point it at the
 * local look-alike in `tests/support/qstash_server.ts`.
 */
import { Client, QstashError } from "@upstash/qstash";

/** How to reach QStash. */
export interface QstashConfig {
  /** `QSTASH_TOKEN`. */
  token: string;
  /** `QSTASH_URL`; default `https://qstash.upstash.io`. */
  baseUrl?: string;
  /**
   * Attempts after a network error (default 2). The SDK's own default of 5
   * with exponential backoff can hold a request for ~4 s, far past what an
   * edge function should spend before telling its caller.
   */
  retries?: number;
}

/** A message to deliver later. Give `notBefore` or `delaySeconds`, not both. */
export interface PublishDelayedInput {
  /** Destination URL QStash will POST to. */
  url: string;
  /** A string goes as is; anything else is sent as JSON. */
  body: unknown;
  /** Absolute delivery time: a Date or unix seconds. */
  notBefore?: Date | number;
  /** Relative delay in seconds. */
  delaySeconds?: number;
  /** QStash accepts a repeated id but enqueues once (ids kept 90 days). */
  deduplicationId?: string;
  /** Headers forwarded to the destination (QStash prefixes them `Upstash-Forward-`). */
  headers?: Record<string, string>;
  /** Delivery retries on the QStash side (its default when unset). */
  retries?: number;
}

/** What QStash answered to a publish. */
export interface PublishResult {
  messageId: string;
  /** True when the deduplication id had been seen: nothing new was enqueued. */
  deduplicated: boolean;
}

/** A cron schedule, created or replaced under a stable id. */
export interface UpsertScheduleInput {
  /** Our own id (e.g. `edgeflow-<schedule uuid>`): re-upserting replaces, never duplicates. */
  scheduleId: string;
  destination: string;
  /** Five-field cron expression. */
  cron: string;
  /** IANA zone; sent as QStash's `CRON_TZ=` prefix. Default UTC. */
  timezone?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** edgeflow's view of QStash. */
export interface QstashPublisher {
  /** Enqueue one message for later delivery. */
  publishDelayed(input: PublishDelayedInput): Promise<PublishResult>;
  /** Create or replace a cron schedule. */
  upsertSchedule(input: UpsertScheduleInput): Promise<{ scheduleId: string }>;
  /** Delete a schedule; deleting one that does not exist is not an error. */
  deleteSchedule(scheduleId: string): Promise<void>;
}

function encodeBody(
  body: unknown,
  headers: Record<string, string> = {},
): { body: string; headers: Record<string, string> } {
  if (typeof body === "string") return { body, headers };
  const hasType = Object.keys(headers).some((h) => h.toLowerCase() === "content-type");
  return {
    body: JSON.stringify(body ?? null),
    headers: hasType ? headers : { ...headers, "Content-Type": "application/json" },
  };
}

function toUnixSeconds(at: Date | number): number {
  return at instanceof Date ? Math.floor(at.getTime() / 1000) : Math.floor(at);
}

/** Build a {@link QstashPublisher} over the official client. */
export function createQstashPublisher(config: QstashConfig): QstashPublisher {
  if (!config.token) throw new TypeError("QStash publishing needs a token");
  const client = new Client({
    token: config.token,
    baseUrl: config.baseUrl,
    // devMode false: never read QSTASH_DEV from the environment or start a dev server.
    devMode: false,
    enableTelemetry: false,
    retry: { retries: config.retries ?? 2, backoff: (n) => 50 * 2 ** n },
  });

  return {
    async publishDelayed(input) {
      if (input.notBefore !== undefined && input.delaySeconds !== undefined) {
        throw new TypeError("give notBefore or delaySeconds, not both");
      }
      const { body, headers } = encodeBody(input.body, input.headers);
      const response = await client.publish({
        url: input.url,
        body,
        headers,
        delay: input.delaySeconds === undefined ? undefined : Math.max(0, input.delaySeconds),
        notBefore: input.notBefore === undefined ? undefined : toUnixSeconds(input.notBefore),
        deduplicationId: input.deduplicationId,
        retries: input.retries,
      });
      return { messageId: response.messageId, deduplicated: response.deduplicated === true };
    },

    async upsertSchedule(input) {
      const { body, headers } = encodeBody(input.body ?? {}, input.headers);
      const tz = input.timezone && input.timezone !== "UTC" ? `CRON_TZ=${input.timezone} ` : "";
      const response = await client.schedules.create({
        scheduleId: input.scheduleId,
        destination: input.destination,
        cron: `${tz}${input.cron}`,
        body,
        headers,
      });
      return { scheduleId: response.scheduleId };
    },

    async deleteSchedule(scheduleId) {
      try {
        await client.schedules.delete(scheduleId);
      } catch (error) {
        // Deletion is idempotent for us: the goal state "no such schedule" holds.
        if (error instanceof QstashError && error.status === 404) return;
        throw error;
      }
    },
  };
}

/**
 * The publisher when `QSTASH_TOKEN` is set, otherwise null (integration off).
 * `env` is whatever the runtime adapter hands over (Worker bindings, Deno env).
 */
export function qstashPublisherFromEnv(
  env: Record<string, string | undefined>,
): QstashPublisher | null {
  if (!env.QSTASH_TOKEN) return null;
  return createQstashPublisher({ token: env.QSTASH_TOKEN, baseUrl: env.QSTASH_URL || undefined });
}
