// deno-lint-ignore-file no-explicit-any
/**
 * Helpers shared by the events and dashboard tests: a flow to run, a worker
 * that drives it through the HTTP worker protocol, and an SSE reader.
 */
import assert from "node:assert/strict";

/** extract → split → load_part (map) → report, with a required `day`. */
export const ETL = {
  name: "etl",
  parameters: {
    type: "object",
    properties: { day: { type: "string" }, rows: { type: "integer", minimum: 0 } },
    required: ["day"],
  },
  steps: [
    { slug: "extract", handler: "etl.extract" },
    { slug: "split", handler: "etl.split", depends_on: ["extract"] },
    { slug: "load_part", handler: "etl.load_part", depends_on: ["split"], map: "split" },
    { slug: "report", handler: "etl.report", depends_on: ["load_part", "extract"] },
  ],
};

/** What each ETL handler returns. */
export const OUTPUTS: Record<string, (input: any) => unknown> = {
  "etl.extract": (i) => ({ day: i.run.day }),
  "etl.split": () => [1, 2],
  "etl.load_part": (i) => i.item * 10,
  "etl.report": (i) => ({ parts: i.deps.load_part, day: i.deps.extract.day }),
};

/** Sends one HTTP call; `call(method, path, body)` → {status, body}. */
export type Call = (method: string, path: string, body?: unknown) => Promise<
  { status: number; body: any }
>;

/**
 * Act as a worker until no task is left: heartbeat for one task at a time,
 * complete it, and wait `pauseMs` between steps (so a watcher sees each one).
 */
export async function driveRun(call: Call, pauseMs = 0, worker = "w1"): Promise<number> {
  let done = 0;
  for (let round = 0; round < 50; round++) {
    const hb = await call("POST", "/heartbeat", { worker, pool: "default", capacity: 1 });
    assert.equal(hb.status, 200, JSON.stringify(hb.body));
    if (!hb.body.tasks.length) return done;
    for (const t of hb.body.tasks) {
      if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
      const res = await call("POST", `/heartbeat/tasks/${t.task}/complete`, {
        lease: t.lease,
        output: OUTPUTS[t.handler](t.input),
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      done++;
    }
  }
  throw new Error("the run did not finish in 50 heartbeats");
}

/** One Server-Sent Event as received. */
export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/** Read an SSE body until `end` or until the stream closes; `onMessage` sees each message. */
export async function readSse(
  res: Response,
  onMessage: (m: SseMessage) => void = () => {},
): Promise<{ messages: SseMessage[]; comments: string[]; retry?: number }> {
  const messages: SseMessage[] = [];
  const comments: string[] = [];
  let retry: number | undefined;
  const decoder = new TextDecoder();
  let buffer = "";
  const reader = res.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const m: SseMessage = { event: "message", data: "" };
      let hasData = false;
      for (const line of block.split("\n")) {
        const [field, ...rest] = line.split(":");
        const value = rest.join(":").replace(/^ /, "");
        if (field === "") comments.push(value);
        else if (field === "id") m.id = value;
        else if (field === "event") m.event = value;
        else if (field === "retry") retry = Number(value);
        else if (field === "data") {
          m.data += (hasData ? "\n" : "") + value;
          hasData = true;
        }
      }
      if (!hasData) continue;
      messages.push(m);
      onMessage(m);
      if (m.event === "end") {
        await reader.cancel();
        return { messages, comments, retry };
      }
    }
  }
  return { messages, comments, retry };
}
