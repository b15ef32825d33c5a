import assert from "node:assert/strict";
import { Cron } from "croner";
import { planYamlImport } from "../../shared/imports/prefect_yaml.ts";
import type { ImportIssue, ImportPlan, ImportResult } from "../../shared/imports/plan.ts";

const example = await Deno.readTextFile(
  new URL("../../examples/grepx/stock_pipeline.yaml", import.meta.url),
);

function plan(result: ImportResult): ImportPlan {
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.plan;
}

function errors(result: ImportResult): ImportIssue[] {
  if (result.ok) throw new Error("expected errors, got a plan");
  return result.errors;
}

/** A one-flow document with the given task and deployment YAML (already indented). */
function doc(tasks: string, deployments = ""): string {
  return `prefect_flows:
  - name: f
prefect_tasks:
${tasks}
${deployments ? `prefect_deployments:\n${deployments}` : ""}`;
}

Deno.test("grepx stock pipeline becomes a pool, a two-step flow and a cron deployment", () => {
  assert.deepEqual(plan(planYamlImport(example)), {
    pools: [{ name: "default-process-pool", type: "pull", concurrency_limit: 10, paused: false }],
    limits: [],
    flows: [{
      name: "stock_data_pipeline",
      description: "Flow for downloading and processing stock data",
      tags: ["stocks", "data"],
      steps: [
        {
          slug: "download_stock_data_task",
          handler: "data.download_historical",
          max_attempts: 4, // max_retries 3 + the first attempt
          base_delay: 30,
          timeout: 300,
          args: { ticker: "AAPL", period: "1mo" },
        },
        {
          slug: "calculate_indicators_task",
          handler: "indicators.calculate_rsi",
          depends_on: ["download_stock_data_task"],
          max_attempts: 1, // no retry_config: Prefect's zero retries
          timeout: 180,
          args: { ticker: "AAPL" },
        },
      ],
    }],
    deployments: [{
      name: "stock_data_pipeline_daily",
      flow: "stock_data_pipeline",
      version: "latest",
      pool: "default-process-pool",
      queue: "default",
      parameters: {},
      tags: [],
      schedules: [{ cron: "30 15 * * 1-5", timezone: "Asia/Kolkata", active: true }],
      paused: false,
    }],
    inactiveFlows: [],
    requiredPools: [],
    stepSlugs: {
      stock_data_pipeline: {
        download_stock_data_task: "download_stock_data_task",
        calculate_indicators_task: "calculate_indicators_task",
      },
    },
    warnings: [],
  });
});

Deno.test("grepx cron schedule fires at 15:30 Kolkata on weekdays only", () => {
  const [schedule] = plan(planYamlImport(example)).deployments[0].schedules;
  assert.ok("cron" in schedule);
  const cron = new Cron(schedule.cron, { timezone: schedule.timezone });
  // From Friday 2026-11-20 00:00 UTC: that Friday 10:00 UTC (15:30 IST), then Monday.
  const fires = cron.nextRuns(2, new Date("2026-11-20T00:00:00Z")).map((d) => d.toISOString());
  assert.deepEqual(fires, ["2026-11-20T10:00:00.000Z", "2026-11-23T10:00:00.000Z"]);
});

Deno.test("grepx interval and rrule schedules, with the short key names too", () => {
  const text = doc(
    "  - {name: t, flow_name: f, celery_task_name: x.t}",
    `  - name: hourly
    flow_name: f
    schedule_type: interval
    schedule_config: {interval_seconds: 3600, timezone: Asia/Kolkata}
  - name: anchored
    flow_name: f
    schedule_type: Interval
    schedule_config: {interval: 60, anchor_date: "2026-01-01T00:00:00Z"}
  - name: weekdays
    flow_name: f
    schedule_type: rrule
    schedule_config: {rrule: "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", timezone: Asia/Kolkata}
  - name: short-cron
    flow_name: f
    schedule_type: cron
    schedule_config: {cron: "0 9 * * *"}
  - name: manual
    flow_name: f`,
  );
  assert.deepEqual(plan(planYamlImport(text)).deployments.map((d) => d.schedules), [
    [{ interval: 3600, active: true }],
    [{ interval: 60, anchor: "2026-01-01T00:00:00Z", active: true }],
    [{ rrule: "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", timezone: "Asia/Kolkata", active: true }],
    [{ cron: "0 9 * * *", timezone: "UTC", active: true }],
    [],
  ]);
});

Deno.test("grepx task names are sanitized into unique slugs, the originals kept", () => {
  const text = doc(`  - {name: "Download data!", flow_name: f, celery_task_name: d.dl}
  - {name: Download_data_, flow_name: f, celery_task_name: d.other}
  - name: report
    flow_name: f
    celery_task_name: r.run
    depends_on: ["Download data!", Download_data_]`);
  const p = plan(planYamlImport(text));
  assert.deepEqual(p.stepSlugs.f, {
    "Download data!": "Download_data__2",
    Download_data_: "Download_data_",
    report: "report",
  });
  assert.deepEqual(p.flows[0].steps?.[2].depends_on, ["Download_data__2", "Download_data_"]);
});

Deno.test("grepx inactive rows are kept but marked inactive", () => {
  const text = `prefect_work_pools:
  - {name: p, pool_type: "cloud-run:push", is_active: false}
prefect_flows:
  - {name: live}
  - {name: retired, is_active: false}
prefect_tasks:
  - {name: a, flow_name: live, celery_task_name: x.a}
  - {name: b, flow_name: live, celery_task_name: x.b, is_active: false}
prefect_deployments:
  - {name: d1, flow_name: live, work_pool_name: p, schedule_type: cron,
     schedule_config: {cron_string: "0 * * * *"}, is_active: false}
  - {name: d2, flow_name: retired}
  - {name: d3, flow_name: live}`;
  const p = plan(planYamlImport(text));
  assert.deepEqual(p.pools, [{ name: "p", type: "push", paused: true }]);
  assert.deepEqual(p.inactiveFlows, ["retired"]);
  assert.deepEqual(p.flows.map((f) => f.name), ["live", "retired"]);
  assert.deepEqual(p.flows[0].steps?.map((s) => s.slug), ["a"]);
  assert.deepEqual(p.deployments.map((d) => d.paused), [true, true, false]);
  assert.equal(p.deployments[0].schedules[0].active, false);
  assert.deepEqual(p.requiredPools, ["default"]);
  assert.ok(p.warnings.some((w) => w.includes("inactive task b")));
  assert.ok(p.warnings.some((w) => w.includes("flow retired has no active tasks")));
});

Deno.test("grepx unknown dependency is an error with its path and line", () => {
  const text = doc(`  - {name: a, flow_name: f, celery_task_name: x.a}
  - name: b
    flow_name: f
    celery_task_name: x.b
    depends_on:
      - a
      - missing`);
  assert.deepEqual(errors(planYamlImport(text)), [{
    path: "prefect_tasks[1].depends_on[1]",
    message: "unknown task missing in flow f",
    line: 10,
    column: 9,
  }]);
});

Deno.test("grepx dependency cycles, inactive dependencies and unknown flows are errors", () => {
  const cycle = doc(`  - {name: a, flow_name: f, celery_task_name: x.a, depends_on: [b]}
  - {name: b, flow_name: f, celery_task_name: x.b, depends_on: [a]}`);
  assert.match(errors(planYamlImport(cycle))[0].message, /cycle: a → b → a/);

  const offDep = doc(`  - {name: a, flow_name: f, celery_task_name: x.a, is_active: false}
  - {name: b, flow_name: f, celery_task_name: x.b, depends_on: [a]}`);
  assert.equal(errors(planYamlImport(offDep))[0].path, "prefect_tasks[1].depends_on[0]");

  const unknown = doc(
    "  - {name: a, flow_name: g, celery_task_name: x.a}",
    "  - {name: d, flow_name: h}",
  );
  assert.deepEqual(errors(planYamlImport(unknown)).map((e) => e.path), [
    "prefect_tasks[0].flow_name",
    "prefect_deployments[0].flow_name",
  ]);
});

Deno.test("grepx schedule problems name the offending key", () => {
  const bad = (type: string, config: string) =>
    errors(planYamlImport(doc(
      "  - {name: a, flow_name: f, celery_task_name: x.a}",
      `  - {name: d, flow_name: f, schedule_type: ${type}, schedule_config: ${config}}`,
    )))[0].path;
  assert.equal(
    bad("cron", "{cron_string: '0 9 *'}"),
    "prefect_deployments[0].schedule_config.cron_string",
  );
  assert.equal(
    bad("cron", "{cron_string: '0 9 * * *', timezone: Mars/Olympus}"),
    "prefect_deployments[0].schedule_config.timezone",
  );
  assert.equal(
    bad("interval", "{interval_seconds: -5}"),
    "prefect_deployments[0].schedule_config.interval_seconds",
  );
  assert.equal(bad("rrule", "{}"), "prefect_deployments[0].schedule_config.rrule");
  assert.equal(bad("weekly", "{}"), "prefect_deployments[0].schedule_type");
});

Deno.test("grepx invalid YAML is an error with line and column", () => {
  const [issue] = errors(planYamlImport("prefect_flows:\n  - name: a\n    tags: [x, y\n"));
  assert.equal(issue.path, "");
  assert.deepEqual([issue.line, issue.column], [4, 1]);
  assert.match(issue.message, /flow sequence/i);
  const [dupe] = errors(planYamlImport("prefect_flows: []\nprefect_flows: []\n"));
  assert.equal(dupe.line, 2);
});

Deno.test("grepx wrong types are errors located in the source", () => {
  const text = doc(`  - name: a
    flow_name: f
    celery_task_name: x.a
    timeout_seconds: soon`);
  const [issue] = errors(planYamlImport(text));
  assert.equal(issue.path, "prefect_tasks[0].timeout_seconds");
  assert.equal(issue.line, 7);
  const [missing] = errors(planYamlImport(doc("  - {name: a, flow_name: f}")));
  assert.equal(missing.path, "prefect_tasks[0].celery_task_name");
  assert.equal(missing.line, 4); // the task itself: the key is absent
});

Deno.test("grepx empty document is an empty plan", () => {
  const p = plan(planYamlImport("# nothing yet\n"));
  assert.deepEqual([p.pools, p.flows, p.deployments], [[], [], []]);
});

Deno.test("grepx planning is deterministic: the same text twice gives equal plans", () => {
  const first = planYamlImport(example);
  const second = planYamlImport(example);
  assert.deepEqual(first, second);
  assert.equal(JSON.stringify(first), JSON.stringify(second));
  // Wire-ready: no undefined members that JSON would silently drop.
  assert.deepEqual(JSON.parse(JSON.stringify(first)), first);
});
