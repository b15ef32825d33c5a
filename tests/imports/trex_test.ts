import assert from "node:assert/strict";
import { planTrexImport } from "../../shared/imports/trex.ts";
import type { ImportIssue, ImportPlan, ImportResult } from "../../shared/imports/plan.ts";

const example = JSON.parse(
  await Deno.readTextFile(new URL("../../examples/trex/package.json", import.meta.url)),
);

/** The environment of the acceptance example: every setting trex reads. */
const env = {
  SYNC_CONCURRENCY: "3",
  PLUGINS_IMAGE_TAG: "2.4.0",
  PREFECT_DOCKER_VOLUMES: '["/srv/data:/data:ro"]',
  PREFECT_DOCKER_NETWORK: "trex-net",
  PLUGINS_FLOW_CUSTOM_REPO_IMAGE_CONFIG:
    '{"current":"ghcr.io/myorg","new":"registry.example.com/mirror"}',
};

function plan(result: ImportResult): ImportPlan {
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.plan;
}

function errors(result: ImportResult): ImportIssue[] {
  if (result.ok) throw new Error("expected errors, got a plan");
  return result.errors;
}

function withFlow(flow: Record<string, unknown>, image?: string) {
  return { trex: { flow: { ...(image ? { image } : {}), flows: [flow] } } };
}

Deno.test("trex example becomes the exact register and deploy payloads", () => {
  const image = "registry.example.com/mirror/workflows:2.4.0";
  const jobVariables = {
    image,
    pull_policy: "IfNotPresent",
    volumes: ["/srv/data:/data:ro"],
    network: "trex-net",
  };
  const deployment = (name: string, tags: string[]) => ({
    name,
    flow: name,
    version: "latest",
    pool: "default",
    queue: "default",
    parameters: {},
    tags,
    schedules: [],
    job_variables: jobVariables,
  });
  assert.deepEqual(plan(planTrexImport(example, env)), {
    pools: [],
    limits: [{ tag: "sync-limit", limit: 3 }],
    flows: [
      // The limit's tag joins the flow's, so the flow's runs count against it.
      {
        name: "data-sync",
        entrypoint: "flows/sync.py:run",
        image,
        tags: ["sync", "scheduled", "sync-limit"],
      },
      {
        name: "report-generator",
        entrypoint: "flows/reports.py:generate",
        image,
        tags: ["reports"],
      },
    ],
    deployments: [
      deployment("data-sync", ["sync", "scheduled", "sync-limit"]),
      deployment("report-generator", ["reports"]),
    ],
    inactiveFlows: [],
    requiredPools: ["default"],
    stepSlugs: {},
    warnings: [],
  });
});

Deno.test("trex limit naming an unset environment variable is an error naming it", () => {
  const { SYNC_CONCURRENCY: _, ...rest } = env;
  assert.deepEqual(errors(planTrexImport(example, rest)), [{
    path: "trex.flow.flows[0].concurrencyLimitOptions[0].limit",
    message: "environment variable SYNC_CONCURRENCY is not set",
  }]);
});

Deno.test("trex limit from a non-numeric environment variable is an error", () => {
  const [issue] = errors(planTrexImport(example, { ...env, SYNC_CONCURRENCY: "three" }));
  assert.equal(issue.path, "trex.flow.flows[0].concurrencyLimitOptions[0].limit");
  assert.match(issue.message, /SYNC_CONCURRENCY must be a whole number, got "three"/);
});

Deno.test("trex limit written as a number or numeric string needs no environment", () => {
  const config = withFlow({
    name: "data-sync",
    entrypoint: "flows/sync.py:run",
    concurrencyLimitOptions: [{ tag: "sync-limit", limit: "3" }, { tag: "io", limit: 5 }],
  }, "ghcr.io/myorg/workflows");
  assert.deepEqual(plan(planTrexImport(config, {})).limits, [
    { tag: "sync-limit", limit: 3 },
    { tag: "io", limit: 5 },
  ]);
});

Deno.test("trex with an empty environment uses the plugin's defaults", () => {
  const p = plan(planTrexImport(example, { SYNC_CONCURRENCY: "3" }));
  assert.deepEqual(p.deployments[0].job_variables, {
    image: "ghcr.io/myorg/workflows:latest",
    pull_policy: "IfNotPresent",
    volumes: [],
  });
  assert.equal(p.deployments[0].pool, "default");
});

Deno.test("trex PREFECT_POOL and PLUGINS_PULL_POLICY reach every deployment", () => {
  const p = plan(planTrexImport(example, {
    ...env,
    PREFECT_POOL: "docker-pool",
    PLUGINS_PULL_POLICY: "Always",
  }));
  assert.deepEqual(p.deployments.map((d) => d.pool), ["docker-pool", "docker-pool"]);
  assert.deepEqual(p.deployments.map((d) => d.job_variables?.pull_policy), ["Always", "Always"]);
  assert.deepEqual(p.requiredPools, ["docker-pool"]);
});

Deno.test("trex rejects malformed environment settings, each by name", () => {
  const bad = {
    ...env,
    PREFECT_DOCKER_VOLUMES: "[/data:/data]",
    PLUGINS_FLOW_CUSTOM_REPO_IMAGE_CONFIG: '{"current":"ghcr.io"}',
    PLUGINS_PULL_POLICY: "Sometimes",
  };
  const paths = errors(planTrexImport(example, bad)).map((e) => e.path);
  assert.deepEqual(paths, [
    "env.PLUGINS_PULL_POLICY",
    "env.PREFECT_DOCKER_VOLUMES",
    "env.PLUGINS_FLOW_CUSTOM_REPO_IMAGE_CONFIG",
  ]);
  const [volumes] = errors(planTrexImport(example, { ...env, PREFECT_DOCKER_VOLUMES: '{"a":1}' }));
  assert.equal(volumes.path, "env.PREFECT_DOCKER_VOLUMES");
  assert.match(volumes.message, /JSON array of strings/);
});

Deno.test("trex flow image overrides the top-level one; rewrite is by prefix only", () => {
  const config = {
    trex: {
      flow: {
        image: "ghcr.io/myorg/workflows",
        flows: [
          { name: "a", entrypoint: "a.py:run", image: "ghcr.io/myorg/etl" },
          { name: "b", entrypoint: "b.py:run", image: "docker.io/ghcr.io/myorg/x" },
          { name: "c", entrypoint: "c.py:run" },
        ],
      },
    },
  };
  const p = plan(planTrexImport(config, env));
  assert.deepEqual(p.flows.map((f) => f.image), [
    "registry.example.com/mirror/etl:2.4.0",
    "docker.io/ghcr.io/myorg/x:2.4.0",
    "registry.example.com/mirror/workflows:2.4.0",
  ]);
});

Deno.test("trex keeps an image that already pins a tag or digest, with a warning", () => {
  const pinned = ["localhost:5000/etl:1.2", "quay.io/org/etl@sha256:abc"];
  for (const image of pinned) {
    const p = plan(planTrexImport(withFlow({ name: "a", entrypoint: "a.py:run", image }), env));
    assert.equal(p.flows[0].image, image);
    assert.equal(p.deployments[0].job_variables?.image, image);
    assert.equal(p.warnings.length, 1);
  }
  // A registry port is not a tag.
  const port = withFlow({ name: "a", entrypoint: "a.py:run", image: "localhost:5000/etl" });
  assert.equal(plan(planTrexImport(port, env)).flows[0].image, "localhost:5000/etl:2.4.0");
});

Deno.test("trex parameter schema and deployment concurrency limit are carried over", () => {
  const schema = { type: "object", properties: { day: { type: "string" } }, required: ["day"] };
  const config = withFlow({
    name: "etl",
    entrypoint: "etl.py:run",
    parameter_openapi_schema: schema,
    concurrencyLimitName: "etl-deploy",
    concurrencyLimit: 2,
  }, "ghcr.io/myorg/workflows");
  const p = plan(planTrexImport(config, env));
  assert.deepEqual(p.flows[0].parameters, schema);
  assert.equal(p.deployments[0].concurrency_limit, 2);
  assert.equal(p.deployments[0].collision_strategy, "enqueue");

  // The plan does not alias its input: changing the config later changes nothing.
  schema.required.push("other");
  assert.deepEqual(p.flows[0].parameters?.required, ["day"]);

  const nameOnly = withFlow({ name: "etl", entrypoint: "etl.py:run", concurrencyLimitName: "x" });
  const q = plan(planTrexImport(nameOnly, env));
  assert.equal(q.deployments[0].concurrency_limit, undefined);
  assert.ok(q.warnings.some((w) => w.includes("concurrencyLimitName")));
});

Deno.test("trex reports invalid config with paths, together with env problems", () => {
  const config = {
    trex: { flow: { flows: [{ name: "ok", entrypoint: "a.py:run" }, { entrypoint: "b.py:run" }] } },
  };
  const result = errors(planTrexImport(config, { PREFECT_DOCKER_VOLUMES: "nope" }));
  assert.deepEqual(result.map((e) => e.path), [
    "trex.flow.flows[1].name",
    "env.PREFECT_DOCKER_VOLUMES",
  ]);
  assert.equal(errors(planTrexImport({ name: "x" }, {}))[0].path, "trex");
  const badName = withFlow({ name: "has space", entrypoint: "a.py:run" });
  assert.equal(errors(planTrexImport(badName, {}))[0].path, "trex.flow.flows[0].name");
});

Deno.test("trex rejects duplicate flows and conflicting tag limits", () => {
  const config = {
    trex: {
      flow: {
        image: "img",
        flows: [
          { name: "a", entrypoint: "a.py:run", concurrencyLimitOptions: [{ tag: "t", limit: 1 }] },
          { name: "a", entrypoint: "b.py:run", concurrencyLimitOptions: [{ tag: "t", limit: 2 }] },
        ],
      },
    },
  };
  assert.deepEqual(errors(planTrexImport(config, {})).map((e) => e.path), [
    "trex.flow.flows[1].name",
    "trex.flow.flows[1].concurrencyLimitOptions[0].limit",
  ]);
});

Deno.test("trex planning is deterministic: the same input twice gives equal plans", () => {
  const first = planTrexImport(example, env);
  const second = planTrexImport(structuredClone(example), { ...env });
  assert.deepEqual(first, second);
  assert.equal(JSON.stringify(first), JSON.stringify(second));
  // Wire-ready: no undefined members that JSON would silently drop.
  assert.deepEqual(JSON.parse(JSON.stringify(first)), first);
});
