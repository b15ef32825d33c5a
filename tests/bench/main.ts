/**
 * `deno task bench`: make a fresh database, run the selected benchmark
 * modules, print a JSON line per figure on stdout, write the Markdown table,
 * drop the database (also on error and Ctrl-C). Progress goes to stderr.
 *
 *   deno task bench                      full run, writes tests/bench/RESULTS.md
 *                                        (engine ≈ 75 s; every module ≈ 5 min)
 *   deno task bench --quick              CI smoke (< 30 s); figures not comparable
 *   deno task bench --peers              pgflow, graphile-worker, pg-boss and edgeflow on
 *                                        one workload (needs the real pgmq for pgflow; ≈ 4 min)
 *   deno task bench --only engine.chain.claim1 [--only …]
 *   deno task bench --clients 8 --rounds 5 --out /tmp/results.md
 *
 * `--quick` and `--only` runs print the table on stderr and leave RESULTS.md
 * alone unless `--out` is given. DATABASE_URL picks the server (default
 * postgres://postgres@127.0.0.1:5432/postgres).
 *
 * A new benchmark is a module exporting a `Benchmark` (see harness.ts), added
 * to BENCHMARKS below.
 */
import { parseArgs } from "node:util";
import { postgresSql } from "../../shared/db/postgres.ts";
import { type Benchmark, type BenchRow, matches } from "./harness.ts";
import { renderResults, renderTable } from "./table.ts";
import { type BenchDatabase, createBenchDatabase } from "./bench_db.ts";
import { engineBench } from "./engine.ts";
import { httpBench } from "./http.ts";
import { tickBench } from "./tick.ts";
import { sweepBench } from "./sweep.ts";
import { uiBench } from "./ui.ts";
import { peersBench } from "./peers.ts";
import { webhooksBench } from "./webhooks.ts";
import { retentionBench } from "./retention.ts";

const BENCHMARKS: Benchmark[] = [
  engineBench,
  httpBench,
  tickBench,
  sweepBench,
  uiBench,
  webhooksBench,
  peersBench,
  retentionBench,
];
/** Modules that run only when asked for (`--peers` or `--only peers…`). */
const OPT_IN = new Set([peersBench.name]);

const RESULTS = new URL("./RESULTS.md", import.meta.url);
const PEERS = new URL("./PEERS.md", import.meta.url);
const USAGE =
  `usage: deno task bench [--quick] [--peers] [--only NAME]… [--clients N] [--rounds N] [--out PATH]
figures: ${BENCHMARKS.flatMap((b) => b.figures).join(", ")}`;

const progress = (line: string) => console.error(`[bench] ${line}`);

function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer`);
  return n;
}

/** The 1-minute load average: other work on a shared machine makes figures noisy. */
async function load1(): Promise<string> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  return text.split(" ")[0] || "?";
}

async function machine(url: string, clients: number): Promise<string> {
  const sql = postgresSql(url, { max: 1 });
  try {
    const [pg] = await sql<{ v: string; sync: string }>`
      select split_part(version(), ' ', 2) as v, current_setting('synchronous_commit') as sync`;
    const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
      .match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim();
    return `${navigator.hardwareConcurrency} cores${cpu ? ` (${cpu})` : ""}, ` +
      `PostgreSQL ${pg.v} (synchronous_commit=${pg.sync}), Deno ${Deno.version.deno}, ` +
      `${clients} clients`;
  } finally {
    await sql.end();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      peers: { type: "boolean", default: false },
      only: { type: "string", multiple: true, default: [] },
      clients: { type: "string" },
      rounds: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const only = values.only!.flatMap((o) => o.split(",")).filter(Boolean);
  if (values.peers) only.push(peersBench.name);
  const options = {
    quick: values.quick!,
    clients: positiveInt("clients", values.clients, 4),
    rounds: positiveInt("rounds", values.rounds, values.quick ? 1 : 3),
  };
  const chosen = BENCHMARKS
    .map((b) => ({ b, selected: new Set(b.figures.filter((f) => matches(only, f))) }))
    .filter((c) => c.selected.size > 0 || only.includes(c.b.name))
    .filter((c) => only.length > 0 || !OPT_IN.has(c.b.name))
    .map((c) => ({ ...c, selected: c.selected.size ? c.selected : new Set(c.b.figures) }));
  if (chosen.length === 0) {
    console.error(`nothing matches --only ${only.join(", ")}\n${USAGE}`);
    return 2;
  }

  const serverUrl = Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const started = performance.now();
  // Ctrl-C drops the database; one that arrives while it is being created
  // drops it as soon as it exists.
  let db: BenchDatabase | undefined = undefined;
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    progress("interrupted: dropping the database");
    if (db) db.drop().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  db = await createBenchDatabase(serverUrl);
  if (interrupted) {
    await db.drop();
    return 130;
  }
  progress(`database ${db.name} created and migrated`);

  const rows: BenchRow[] = [];
  let description: string;
  const loadBefore = await load1();
  if (Number(loadBefore) > navigator.hardwareConcurrency) {
    progress(`load average ${loadBefore} on ${navigator.hardwareConcurrency} cores: expect noise`);
  }
  try {
    description = await machine(db.url, options.clients);
    for (const { b, selected } of chosen) {
      progress(`${b.name}: ${[...selected].join(", ")}`);
      const ctx = { ...options, url: db.url, progress: (l: string) => progress(`${b.name} ${l}`) };
      for (const row of await b.run(ctx, selected)) {
        rows.push(row);
        console.log(JSON.stringify(row.json));
      }
    }
  } finally {
    await db.drop();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }

  description += `; 1-min load average ${loadBefore} before, ${await load1()} after`;
  const command = ["deno task bench", ...Deno.args].join(" ");
  const page = renderResults({
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    machine: description,
    command,
    rows,
    methods: chosen.map(({ b }) => ({ name: b.name, method: b.method })),
  });
  const peersOnly = values.peers && values.only!.length === 0 && !options.quick;
  const partial = options.quick || only.length > 0;
  const out = values.out ?? (peersOnly ? PEERS : partial ? undefined : RESULTS);
  if (out) {
    await Deno.writeTextFile(out, page);
    progress(`table written to ${out instanceof URL ? out.pathname : out}`);
  } else {
    console.error(renderTable(rows));
  }
  progress(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  // A missed target is a figure to report, not a crash: the exit code says the bench ran.
  return 0;
}

try {
  Deno.exit(await main());
} catch (err) {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  Deno.exit(1);
}
