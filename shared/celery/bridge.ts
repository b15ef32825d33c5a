/**
 * The Celery bridge: a worker handler that runs each task on an existing
 * Celery worker. The step's `args` go as the Celery task's kwargs (and,
 * with `passInput`, the run's parameters and dependency outputs under
 * `edgeflow`); the task's name is the step's handler. While Celery works,
 * the edgeflow worker keeps heartbeating, so the lease lives; the result
 * from the result backend completes the step, a Celery exception fails the
 * attempt (edgeflow's retry policy decides), and an aborted task (the run
 * was cancelled, the lease lost) revokes the Celery task.
 *
 * Results arrive by pub/sub: the Redis backend PUBLISHes every state on the
 * result key, so we SUBSCRIBE before sending and get the result within a
 * millisecond of Celery storing it. A GET every `pollMs` covers a message
 * missed while the subscriber reconnected.
 */
import type { Handler } from "../worker/context.ts";
import {
  CeleryTaskError,
  parseMeta,
  READY_STATES,
  resultKey,
  revokeBroadcast,
  taskEnvelope,
  type TaskMeta,
} from "./message.ts";
import { type Connect, parseRedisUrl, RedisConnection, type RedisTarget } from "./resp.ts";

/** Options of `celeryBridge`. */
export interface CeleryBridgeOptions {
  /** The broker, `redis://host:port/db`. */
  broker: string;
  /** The result backend (default: the broker). */
  backend?: string;
  /** The queue tasks are sent to (default `celery`, Celery's default). */
  queue?: string;
  connect: Connect;
  /** Shown as the messages' `origin`. */
  origin: string;
  /** Also hand the run's parameters and dependency outputs in, as kwarg `edgeflow`. */
  passInput?: boolean;
  /** Revoke with `terminate` (kill the Celery child running it; default true). */
  terminate?: boolean;
  /** Safety poll of the result key (default 2,000 ms). */
  pollMs?: number;
}

/** A running bridge. */
export interface CeleryBridge {
  handler: Handler;
  /** Closes the Redis connections. */
  close(): void;
}

/** Connects to the broker and backend; rejects when Redis is unreachable. */
export async function celeryBridge(o: CeleryBridgeOptions): Promise<CeleryBridge> {
  const broker = parseRedisUrl(o.broker);
  const backend: RedisTarget = o.backend ? parseRedisUrl(o.backend) : broker;
  const queue = o.queue ?? "celery";
  const pollMs = o.pollMs ?? 2_000;
  const waiting = new Map<string, (meta: TaskMeta) => void>();
  const onMessage = (channel: string, data: string) => {
    const meta = parseMeta(data);
    if (meta && READY_STATES.has(meta.status)) waiting.get(channel)?.(meta);
  };
  const same = JSON.stringify(broker) === JSON.stringify(backend);
  const sendConn = reconnecting(o.connect, broker);
  const readConn = same ? sendConn : reconnecting(o.connect, backend);
  const subConn = reconnecting(o.connect, backend, onMessage);
  const send = (...args: (string | number)[]) => sendConn.get().then((c) => c.command(...args));
  const read = (...args: (string | number)[]) => readConn.get().then((c) => c.command(...args));
  const sub = (...args: (string | number)[]) => subConn.get().then((c) => c.command(...args));
  await send("PING");
  await sub("PING");

  const handler: Handler = async (ctx) => {
    const id = crypto.randomUUID();
    const key = resultKey(id);
    const args = ctx.input.args;
    const kwargs: Record<string, unknown> = args && typeof args === "object" && !Array.isArray(args)
      ? { ...args as Record<string, unknown> }
      : {};
    if (o.passInput) {
      kwargs.edgeflow = { run: ctx.input.run, deps: ctx.input.deps, item: ctx.input.item };
    }
    let settle!: (meta: TaskMeta) => void;
    const done = new Promise<TaskMeta>((resolve) => (settle = resolve));
    waiting.set(key, settle);
    let poll: ReturnType<typeof setInterval> | undefined;
    const aborted = new Promise<"aborted">((resolve) => {
      if (ctx.signal.aborted) resolve("aborted");
      ctx.signal.addEventListener("abort", () => resolve("aborted"), { once: true });
    });
    const sentAt = Date.now();
    try {
      await sub("SUBSCRIBE", key);
      await send(
        "LPUSH",
        queue,
        taskEnvelope({ task: ctx.handler, id, kwargs, queue, origin: o.origin }),
      );
      ctx.log.info("sent to celery", { celery_task: ctx.handler, celery_id: id, queue });
      poll = setInterval(() => {
        read("GET", key).then((v) => {
          const meta = parseMeta(typeof v === "string" ? v : null);
          if (meta && READY_STATES.has(meta.status)) settle(meta);
        }, () => {});
      }, pollMs);
      const meta = await Promise.race([done, aborted]);
      if (meta === "aborted") {
        const revoke = revokeBroadcast([id], broker.db, { terminate: o.terminate ?? true });
        await send("PUBLISH", revoke.channel, revoke.payload);
        ctx.log.info("revoked the celery task", {
          celery_id: id,
          reason: String(ctx.signal.reason),
        });
        throw ctx.signal.reason;
      }
      // How long Celery took, as the bridge saw it (send to result): the figure
      // to compare with the step's duration when a pipeline feels slow.
      ctx.log.info(`celery task ${meta.status}`, { celery_id: id, celery_ms: Date.now() - sentAt });
      if (meta.status === "SUCCESS") return meta.result;
      if (meta.status === "REVOKED") {
        throw new Error(`celery task ${ctx.handler} ${id} was revoked`);
      }
      throw new CeleryTaskError(meta, ctx.handler);
    } finally {
      clearInterval(poll);
      waiting.delete(key);
      sub("UNSUBSCRIBE", key).catch(() => {});
    }
  };

  return {
    handler,
    close: () => {
      for (const c of new Set([sendConn, readConn, subConn])) c.close();
    },
  };
}

/** The bridge's connections in Redis's CLIENT LIST. */
export const CLIENT_NAME = "edgeflow-celery-bridge";

/**
 * A connection that is opened again on the next use after it dropped
 * (Redis restarted, a network blip): a task in flight then still gets its
 * result through the poll, and the next task finds a live connection.
 */
function reconnecting(
  connect: Connect,
  target: RedisTarget,
  onMessage?: (channel: string, data: string) => void,
) {
  let current: Promise<RedisConnection> | null = null;
  let stopped = false;
  return {
    get(): Promise<RedisConnection> {
      if (stopped) return Promise.reject(new Error("the Celery bridge is closed"));
      current ??= RedisConnection.open(connect, target, CLIENT_NAME).then((c) => {
        if (onMessage) c.onMessage = onMessage;
        void c.closed.then(() => (current = null));
        return c;
      }, (err) => {
        current = null;
        throw err;
      });
      return current;
    },
    close(): void {
      stopped = true;
      void current?.then((c) => c.close(), () => {});
    },
  };
}
