/**
 * Bodies and definition fields of events and waits (issue 16): the body of
 * `POST /trigger/events`, a step's `wait` and `sleep`, and a deployment's
 * `triggers`, `cancel_on` and per-key `concurrency`. Templates inside them
 * are checked by shared/api/key_template.ts where the roots they may use are
 * known (normalize_flow.ts for steps, `DeployBody` for deployments).
 */
import { z } from "zod";
import { queryInt } from "./query_int.ts";
import { int4, JsonObject, NAME_PATTERN, seconds } from "./names.ts";

/** An event name: letters, digits, `.`, `_`, `-` (so `name/key` joins unambiguously). */
export const EventName = z.string().regex(
  NAME_PATTERN,
  "must be 1-128 letters, digits, '.', '_' or '-'",
);

/** An event key, or a template rendering to one. */
export const EventKey = z.string().max(512);

/** `{"/json/pointer": expected value, …}`: every pointer of the payload must equal its value. */
export const Match = z.record(
  z.string().max(512).regex(/^(\/.*)?$/, 'must be a JSON pointer: "" or starting with /'),
  z.json(),
);

/** Longest a wait or a sleep can last: a year. */
export const MAX_WAIT_SECONDS = 365 * 86_400;

/** A step's `wait`: it completes with the payload of the first matching event. */
export const WaitSpec = z.strictObject({
  event: EventName,
  key: EventKey.optional(),
  match: Match.optional(),
  timeout: seconds(1, MAX_WAIT_SECONDS),
  /** Also accept an event received up to this many seconds before the wait began. */
  lookback: seconds(0, 30 * 86_400).optional(),
  on_timeout: z.enum(["fail", "continue"]).optional(),
});
export type WaitInput = z.output<typeof WaitSpec>;

/** A step's `sleep`: seconds, or `{"until": ISO time}`. */
export const SleepSpec = z.union([
  seconds(0, MAX_WAIT_SECONDS),
  z.strictObject({ until: z.iso.datetime({ offset: true }) }),
]);
export type SleepInput = z.output<typeof SleepSpec>;

/** One per-key concurrency limit: at most `limit` at once per rendered `key`. */
export const KeyConcurrency = z.strictObject({
  key: z.string().min(1).max(512),
  limit: int4(1),
});

/** A deployment trigger: each matching event starts a run (or, debounced, the last of a burst). */
export const DeploymentTrigger = z.strictObject({
  event: EventName,
  match: Match.optional(),
  parameters: JsonObject.optional(),
  debounce: seconds(1, 86_400).optional(),
});

/** A deployment's `cancel_on`: a matching event cancels its runs whose rendered key is the event's. */
export const CancelOn = z.strictObject({
  event: EventName,
  key: EventKey.optional(),
  match: Match.optional(),
});

/** The body of `POST /trigger/events`. */
export const EventBody = z.strictObject({
  name: EventName,
  key: z.string().max(512).default(""),
  payload: z.json().default(null),
  /** The same id twice records nothing new (within the event retention). */
  id: z.string().min(1).max(256).optional(),
});
export type EventInput = z.output<typeof EventBody>;

/**
 * The body of `POST /heartbeat/tasks/:task/suspend`: a handler's
 * `ctx.waitForEvent` ends its attempt until the event (or the timeout).
 * `seq`: how many waits the handler has passed in this task (its memo's length).
 */
export const SuspendBody = z.strictObject({
  lease: z.string().max(64),
  wait: z.strictObject({
    seq: z.number().int().min(0).max(1000),
    event: EventName,
    key: z.string().max(512).default(""),
    match: Match.optional(),
    timeout: seconds(1, MAX_WAIT_SECONDS),
    lookback: seconds(0, 30 * 86_400).optional(),
  }),
});
export type SuspendInput = z.output<typeof SuspendBody>;

/** `GET /trigger/events?name=&key=&limit=`. */
export const EventsQuery = z.strictObject({
  name: EventName.optional(),
  key: z.string().max(512).optional(),
  limit: queryInt(1, 500, 50),
});
