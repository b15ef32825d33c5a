/** The `heartbeat` function (Supabase Edge Functions, deno serve): routes under /heartbeat. */
import { createApp } from "../../shared/app/app.ts";
import { denoDeps } from "../../shared/runtime/deno_deps.ts";

const app = createApp(await denoDeps(), { functions: ["heartbeat"] });
Deno.serve(app.fetch);
