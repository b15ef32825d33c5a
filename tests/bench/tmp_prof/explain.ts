import { postgresSql } from "/work/main/shared/db/postgres.ts";
import { registerFlow } from "/work/main/shared/engine/flows.ts";
import { claimTasks } from "/work/main/shared/engine/tasks.ts";
import { completeTasks } from "/work/main/shared/engine/batch.ts";
import { analyzeState, CHAIN, resetState, startRuns } from "/work/main/tests/bench/engine_load.ts";
const url = Deno.args[0];
const admin = postgresSql(url, { max: 1 });
const c = postgresSql(url, { max: 1 });
const flow = await registerFlow(admin, CHAIN);
await resetState(admin);
await startRuns(admin, flow.id, 60);
await analyzeState(admin);
for (let i = 0; i < 30; i++) {
  if (i === 29) {
    await c`load 'auto_explain'`;
    await c`set auto_explain.log_min_duration = 0`;
    await c`set auto_explain.log_analyze = on`;
    await c`set auto_explain.log_nested_statements = on`;
  }
  const [t] = await claimTasks(c, "default", null, 1, "w");
  await completeTasks(c, [{ task: t.task, lease: t.lease, output: 1 }]);
}
Deno.exit(0);
