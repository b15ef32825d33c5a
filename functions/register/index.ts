/** The `register` function (Supabase Edge Functions, deno serve): routes under /register. */
import { createApp } from "../../shared/app/app.ts";
import { denoDeps } from "../../shared/runtime/deno_deps.ts";

const app = createApp(await denoDeps(), { functions: ["register"] });
Deno.serve(app.fetch);
