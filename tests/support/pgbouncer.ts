/**
 * A real transaction pooler for tests: Debian's pgbouncer in
 * `pool_mode = transaction` (what Supabase's Supavisor is on port 6543) in
 * front of the Postgres at 127.0.0.1:5432, on a free port. Every database
 * name passes through (`* =`). pgbouncer refuses to run as root, so it runs
 * as `postgres` (`-u`) with its files in a folder that user owns.
 */
const BINARY = "/usr/sbin/pgbouncer";

export interface Pgbouncer {
  port: number;
  /** `postgresUrl` with host and port replaced by the pooler's. */
  urlFor(postgresUrl: string): string;
  stop(): Promise<void>;
}

/** Null (the caller skips loudly) when pgbouncer is not installed. */
export function pgbouncerAvailable(): boolean {
  try {
    return Deno.statSync(BINARY).isFile;
  } catch {
    return false;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

export async function startPgbouncer(
  opts: { upstreamPort?: number; poolSize?: number } = {},
): Promise<Pgbouncer> {
  const dir = await Deno.makeTempDir({ prefix: "edgeflow_pgbouncer_" });
  const port = freePort();
  await Deno.writeTextFile(`${dir}/users.txt`, `"postgres" ""\n`);
  await Deno.writeTextFile(
    `${dir}/pgbouncer.ini`,
    [
      "[databases]",
      `* = host=127.0.0.1 port=${opts.upstreamPort ?? 5432}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${dir}/users.txt`,
      "pool_mode = transaction",
      `default_pool_size = ${opts.poolSize ?? 10}`,
      "max_client_conn = 500",
      `logfile = ${dir}/pgbouncer.log`,
      `pidfile = ${dir}/pgbouncer.pid`,
      "",
    ].join("\n"),
  );
  await run("chown", ["-R", "postgres", dir]);
  const child = new Deno.Command(BINARY, {
    args: ["-u", "postgres", `${dir}/pgbouncer.ini`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeTo(new WritableStream()).catch(() => {});
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        let log = "";
        try {
          log = await Deno.readTextFile(`${dir}/pgbouncer.log`);
        } catch { /* none */ }
        throw new Error(`pgbouncer did not listen on ${port}: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    urlFor(postgresUrl: string) {
      const u = new URL(postgresUrl);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await stderr;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
