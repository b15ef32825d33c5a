// The BUILT package from Node's test runner, imported by its name
// (tests/sdk/package_test.ts links sdk/ts/dist as node_modules/@edgeflow/sdk
// and serves edgeflow at EDGEFLOW_URL).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiError, createClient, createWorker, silentLogger } from "@edgeflow/sdk";

const url = process.env.EDGEFLOW_URL;
const key = process.env.EDGEFLOW_KEY;
const flow = process.env.EDGEFLOW_FLOW ?? "node-chain";

test("a worker and a client from @edgeflow/sdk run a two-step flow on Node", async () => {
  const client = createClient({ url, key });
  await client.register({
    name: flow,
    steps: [{ slug: "a", handler: `${flow}.a` }, {
      slug: "b",
      handler: `${flow}.b`,
      depends_on: ["a"],
    }],
  });
  await client.deploy({ name: flow, flow });
  const worker = createWorker({
    url,
    key,
    logger: silentLogger,
    handlers: {
      [`${flow}.a`]: (ctx) => ({ n: ctx.input.run.start }),
      [`${flow}.b`]: (ctx) => ({ n: ctx.input.deps.a.n + 1, runtime: "node" }),
    },
  });
  await worker.start();
  try {
    const { run_id } = await client.trigger(flow, { start: 41 });
    const run = await client.waitForRun(run_id, { timeoutMs: 60_000, intervalMs: 100 });
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.steps.find((s) => s.slug === "b").output, { n: 42, runtime: "node" });
  } finally {
    await worker.stop();
  }
  await assert.rejects(client.trigger("no-such-deployment"), (err) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 404);
    return true;
  });
});
