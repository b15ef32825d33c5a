/** `deno task dev`: the local dev server (embedded Postgres, example flow, worker). */
import { startDevServer } from "../shared/runtime/dev_server.ts";

const dev = await startDevServer();
Deno.addSignalListener("SIGINT", async () => {
  console.log("\nstopping…");
  await dev.close();
  Deno.exit(0);
});
