// Type-checked against the BUILT package's .d.ts (tests/sdk/package_test.ts):
// a user's TypeScript sees the SDK's types by the package name.
import {
  type Client,
  createClient,
  createWorker,
  type TaskContext,
  type Worker,
} from "@edgeflow/sdk";

const worker: Worker = createWorker({
  url: "http://127.0.0.1:8000",
  key: "ef_test",
  handlers: {
    "etl.extract": (ctx: TaskContext) => ({ day: ctx.input.run.day, attempt: ctx.attempt }),
  },
});
const client: Client = createClient({ url: "http://127.0.0.1:8000", key: "ef_test" });
export const started: Promise<void> = worker.start();
export const run: Promise<{ run_id: string; status: string }> = client.trigger("etl", { day: "x" });
// @ts-expect-error: capacity is a number
createWorker({ url: "http://x", key: "k", handlers: {}, capacity: "4" });
