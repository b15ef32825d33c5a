/** The `deploy` function (Supabase Edge Functions, deno serve): routes under /deploy. */
import { createApp } from "../../shared/app/app.ts";
import { denoDeps } from "../../shared/runtime/deno_deps.ts";

const app = createApp(await denoDeps(), { functions: ["deploy"] });
Deno.serve(app.fetch);
