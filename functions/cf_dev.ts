/** `deno task cf:dev`: the Workers build under `wrangler dev`, prepared (see shared/runtime/cf_dev.ts). */
import { cfDev } from "../shared/runtime/cf_dev.ts";

Deno.exit(await cfDev(Deno.env.toObject(), Deno.args));
