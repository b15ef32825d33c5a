/** The `trigger` function (Supabase Edge Functions, deno serve): routes under /trigger. */
import { createApp } from "../../shared/app/app.ts";
import { denoDeps } from "../../shared/runtime/deno_deps.ts";

const app = createApp(await denoDeps(), { functions: ["trigger"] });
Deno.serve(app.fetch);
