/**
 * A private Postgres 15 cluster with pg_cron (Debian's postgresql-15-cron)
 * for tests: initdb'd as the `postgres` OS user in a temp folder it owns,
 * on a free port, with `shared_preload_libraries = 'pg_cron'` and
 * `cron.database_name` set to the one database it makes. pg_cron's jobs run
 * in background workers (`cron.use_background_workers`), so they connect
 * through no socket at all. The machine's other extensions (pgmq) are
 * shared with the main cluster's installation.
 */
const BIN = "/usr/lib/postgresql/15/bin";
const PG_CRON = "/usr/lib/postgresql/15/lib/pg_cron.so";

export interface PgCronCluster {
  /** URL of the database pg_cron runs its jobs in. */
  url: string;
  stop(): Promise<void>;
}

/** Why this machine cannot run the cluster, or null when it can. */
export function pgCronMissing(): string | null {
  const exists = (p: string) => {
    try {
      Deno.statSync(p);
      return true;
    } catch {
      return false;
    }
  };
  if (!exists(PG_CRON)) return `${PG_CRON} is missing (apt-get install postgresql-15-cron)`;
  if (!exists(`${BIN}/initdb`)) return `${BIN}/initdb is missing`;
  if (Deno.uid?.() !== 0) return "initdb must run as the postgres OS user: the test needs root";
  return null;
}

async function asPostgres(args: string[]): Promise<string> {
  const out = await new Deno.Command("runuser", {
    args: ["-u", "postgres", "--", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${args.join(" ")}: ${text}`);
  return text;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

export async function startPgCronCluster(database = "edgeflow_cron"): Promise<PgCronCluster> {
  const dir = await Deno.makeTempDir({ prefix: "edgeflow_pgcron_" });
  await Deno.chmod(dir, 0o755);
  const data = `${dir}/data`;
  await new Deno.Command("chown", { args: ["postgres", dir] }).output();
  await asPostgres([`${BIN}/initdb`, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
  const port = freePort();
  await Deno.writeTextFile(
    `${data}/postgresql.conf`,
    [
      "",
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      "shared_preload_libraries = 'pg_cron'",
      `cron.database_name = '${database}'`,
      "cron.use_background_workers = on",
      "max_worker_processes = 32",
      "fsync = off",
      "",
    ].join("\n"),
    { append: true },
  );
  await asPostgres([`${BIN}/pg_ctl`, "-D", data, "-l", `${dir}/log`, "-w", "-t", "60", "start"]);
  const stop = async () => {
    await asPostgres([`${BIN}/pg_ctl`, "-D", data, "-m", "immediate", "-w", "stop"]).catch(
      () => {},
    );
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await asPostgres([`${BIN}/createdb`, "-h", "127.0.0.1", "-p", String(port), database]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `postgres://postgres@127.0.0.1:${port}/${database}`, stop };
}
