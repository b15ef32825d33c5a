/** The `edgeflow` command-line client: `deno task cli <command> …` (see `--help`). */
import { main } from "../shared/cli/main.ts";
import { denoCliIo } from "../shared/runtime/cli_io.ts";

Deno.exit(await main(denoCliIo()));
