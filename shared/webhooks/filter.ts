/**
 * Which verified deliveries start a run. `events`: the event must be listed
 * (`invoice.*` matches every event beginning with `invoice.`); `match`: JSON
 * Pointers (RFC 6901) into the body, each of whose values must equal the one
 * given. A delivery filtered out is recorded as `ignored`, with the reason.
 */
import { z } from "zod";
import { isDeepStrictEqual } from "./deep_equal.ts";

export const WebhookFilter = z.object({
  events: z.array(z.string().min(1).max(200)).max(100).optional(),
  match: z.record(
    z.string().max(500).regex(/^(\/([^~]|~[01])*)+$/, "must be a JSON Pointer such as /ref"),
    z.unknown(),
  ).optional(),
}).strict();
export type WebhookFilter = z.infer<typeof WebhookFilter>;

/** The value at a JSON Pointer, or undefined. */
export function atPointer(doc: unknown, pointer: string): unknown {
  let node = doc;
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** null when the delivery passes, else why it is ignored. */
export function filterOut(
  filter: WebhookFilter,
  event: string | null,
  body: unknown,
): string | null {
  if (filter.events && filter.events.length > 0) {
    const listed = filter.events.some((e) =>
      e.endsWith(".*") ? (event ?? "").startsWith(e.slice(0, -1)) : e === event
    );
    if (!listed) return `event ${event ?? "(none)"} is not in the filter's events`;
  }
  for (const [pointer, expected] of Object.entries(filter.match ?? {})) {
    const actual = atPointer(body, pointer);
    if (!isDeepStrictEqual(actual, expected)) {
      return `${pointer} is ${JSON.stringify(actual) ?? "missing"}, not ${
        JSON.stringify(expected)
      }`;
    }
  }
  return null;
}
