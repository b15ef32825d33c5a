/**
 * Celery's wire formats on a Redis broker, as a Celery 5 worker reads them
 * (Celery's "Message Protocol" docs, version 2; kombu's Redis transport):
 *
 * - a task is a JSON envelope LPUSHed onto the queue's list (key = the queue
 *   name, `celery` by default); its `body` is base64 of the JSON
 *   `[args, kwargs, embed]`, its `headers` carry `task`, `id`, `root_id`…;
 * - a result is the JSON `{status, result, traceback, …}` the Redis result
 *   backend SETs at `celery-task-meta-<id>` and PUBLISHes on that key;
 * - a revoke is a pidbox broadcast: a kombu envelope PUBLISHed on the
 *   fanout channel `/<db>.celery.pidbox` (kombu's `fanout_prefix` and
 *   `fanout_patterns`, both on by default), body
 *   `{method: "revoke", arguments: {task_id, terminate, signal}, …}`.
 */

/** A task message to send. */
export interface TaskMessage {
  /** The Celery task name (`data.download_historical`). */
  task: string;
  /** The Celery task id (a fresh UUID per edgeflow attempt). */
  id: string;
  kwargs: Record<string, unknown>;
  args?: unknown[];
  /** The queue (= list key) it goes to. */
  queue: string;
  /** Who sent it (`edgeflow@<worker>`), as `origin` shows in Flower. */
  origin: string;
  /** Celery's `(soft, hard)` time limits in seconds. */
  timeLimit?: [number | null, number | null];
}

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** A Python-ish repr for `argsrepr`/`kwargsrepr` (only shown by monitoring tools). */
function repr(value: unknown): string {
  return JSON.stringify(value) ?? "None";
}

/** The envelope to LPUSH onto the queue's list. */
export function taskEnvelope(m: TaskMessage): string {
  const args = m.args ?? [];
  const embed = { callbacks: null, errbacks: null, chain: null, chord: null };
  return JSON.stringify({
    body: base64(JSON.stringify([args, m.kwargs, embed])),
    "content-encoding": "utf-8",
    "content-type": "application/json",
    headers: {
      lang: "py",
      task: m.task,
      id: m.id,
      shadow: null,
      eta: null,
      expires: null,
      group: null,
      group_index: null,
      retries: 0,
      timelimit: m.timeLimit ?? [null, null],
      root_id: m.id,
      parent_id: null,
      argsrepr: repr(args),
      kwargsrepr: repr(m.kwargs),
      origin: m.origin,
      ignore_result: false,
    },
    properties: {
      correlation_id: m.id,
      reply_to: "",
      delivery_mode: 2,
      delivery_info: { exchange: "", routing_key: m.queue },
      priority: 0,
      body_encoding: "base64",
      delivery_tag: crypto.randomUUID(),
    },
  });
}

/** The channel and payload of a revoke broadcast to every worker on broker db `db`. */
export function revokeBroadcast(
  taskIds: string[],
  db: number,
  opts: { terminate: boolean; signal?: string },
): { channel: string; payload: string } {
  const body = {
    method: "revoke",
    arguments: { task_id: taskIds, terminate: opts.terminate, signal: opts.signal ?? "SIGTERM" },
    destination: null,
    pattern: null,
    matcher: null,
  };
  const payload = JSON.stringify({
    body: base64(JSON.stringify(body)),
    "content-encoding": "utf-8",
    "content-type": "application/json",
    headers: { clock: 1, expires: 0 },
    properties: {
      delivery_mode: 2,
      delivery_info: { exchange: "celery.pidbox", routing_key: "" },
      priority: 0,
      body_encoding: "base64",
      delivery_tag: crypto.randomUUID(),
    },
  });
  return { channel: `/${db}.celery.pidbox`, payload };
}

/** The result backend's key (and pub/sub channel) of a task. */
export function resultKey(id: string): string {
  return `celery-task-meta-${id}`;
}

/** A task's state in the result backend. */
export interface TaskMeta {
  status: string;
  result: unknown;
  traceback: string | null;
}

/** States after which nothing changes (Celery's READY_STATES). */
export const READY_STATES = new Set(["SUCCESS", "FAILURE", "REVOKED"]);

/** Parses a result backend value; null when it is not one. */
export function parseMeta(text: string | null): TaskMeta | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as Partial<TaskMeta>;
    if (typeof v?.status !== "string") return null;
    return { status: v.status, result: v.result ?? null, traceback: v.traceback ?? null };
  } catch {
    return null;
  }
}

/** A Celery task's exception, as the step's error: its type, message and Python traceback. */
export class CeleryTaskError extends Error {
  constructor(meta: TaskMeta, task: string) {
    const exc = (meta.result ?? {}) as { exc_type?: string; exc_message?: unknown };
    const msg = Array.isArray(exc.exc_message)
      ? exc.exc_message.map(String).join(", ")
      : String(exc.exc_message ?? meta.status);
    super(`celery task ${task} raised ${exc.exc_type ?? "an exception"}: ${msg}`);
    this.name = exc.exc_type ?? "CeleryTaskError";
    // The Python traceback is the useful stack here, not ours.
    if (meta.traceback) this.stack = meta.traceback;
  }
}
