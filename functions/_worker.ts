/** Cloudflare Workers: every route, and the cron tick in `scheduled()`. */
import { scheduledTick } from "../shared/app/tick.ts";
import {
  releaseRequest,
  requestSql,
  workerApp,
  workerDeps,
  type WorkerEnv,
} from "../shared/runtime/cloudflare.ts";

interface Ctx {
  waitUntil(p: Promise<unknown>): void;
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: Ctx): Promise<Response> {
    try {
      return await workerApp(env).fetch(request, env, ctx as never);
    } finally {
      releaseRequest(request, ctx);
    }
  },
  scheduled(_event: unknown, env: WorkerEnv, ctx: Ctx): void {
    const sql = requestSql(env);
    ctx.waitUntil(scheduledTick(workerDeps(env), sql).finally(() => sql.end()));
  },
};
