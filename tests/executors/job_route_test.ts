/** `GET /heartbeat/runs/:id/job`: what an executor needs to start a run's tasks. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { testApp } from "../support/app.ts";

dbTest(
  "the job route gives a run's job variables, entrypoint and image; 404 and 403 otherwise",
  async (db) => {
    const { call } = testApp(db);
    await call("POST", "/register", {
      name: "sync",
      entrypoint: "flows/sync.py:run",
      image: "ghcr.io/myorg/workflows",
    });
    const job_variables = {
      image: "registry.internal/myorg/workflows:1.4",
      pull_policy: "Never",
      volumes: ["/d:/d"],
    };
    assert.equal(
      (await call("POST", "/deploy", { name: "sync-d", flow: "sync", job_variables })).status,
      201,
    );
    const deployed = (await call("POST", "/trigger/sync-d", {})).body;
    const adhoc = (await call("POST", "/trigger/flows/sync", {})).body;
    const worker = (await call("POST", "/deploy/keys", { name: "w", scopes: ["worker"] })).body.key;
    const trigger =
      (await call("POST", "/deploy/keys", { name: "t", scopes: ["trigger"] })).body.key;

    const job = await call("GET", `/heartbeat/runs/${deployed.run_id}/job`, undefined, {
      key: worker,
    });
    assert.equal(job.status, 200);
    assert.deepEqual(job.body, {
      run_id: deployed.run_id,
      flow: "sync",
      version: 1,
      deployment: "sync-d",
      entrypoint: "flows/sync.py:run",
      image: "ghcr.io/myorg/workflows",
      job_variables,
    });
    const bare = (await call("GET", `/heartbeat/runs/${adhoc.run_id}/job`)).body;
    assert.equal(bare.deployment, null);
    assert.deepEqual(bare.job_variables, {});

    const unknown = await call("GET", "/heartbeat/runs/00000000-0000-4000-8000-000000000000/job");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, "not_found");
    assert.equal((await call("GET", "/heartbeat/runs/not-a-uuid/job")).status, 404);
    const refused = await call("GET", `/heartbeat/runs/${deployed.run_id}/job`, undefined, {
      key: trigger,
    });
    assert.equal(refused.status, 403);
  },
);
