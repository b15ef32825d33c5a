/**
 * A Postgres server of the test's own (initdb in a temporary directory, a
 * free port), so the restart test can restart it under load without cutting
 * off the other test files that `deno test --parallel` runs at the same time
 * on the machine's shared server.
 *
 * With EDGEFLOW_FAULT_RESTART=shared the machine's own cluster is used and
 * restarted with `pg_ctlcluster` instead (only when nothing else runs on it).
 */

const run = async (cmd: string[], what: string): Promise<string> => {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${what} failed (${cmd.join(" ")}):\n${text}`);
  return text;
};

/** A server the test may restart; `url` points at its `postgres` database. */
export interface RestartablePostgres {
  url: string;
  /** Stop and start again; `immediate` is a crash stop (no checkpoint, WAL replay on start). */
  restart(): Promise<void>;
  /** SIGSTOP every process of the server: it accepts TCP connections (the kernel does) and answers nothing. */
  freeze(): Promise<void>;
  /** SIGCONT what `freeze` stopped. */
  thaw(): Promise<void>;
  /** Wait until the server accepts connections (pg_isready), at most `timeoutMs`. */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

async function bindir(): Promise<string> {
  return (await run(["pg_config", "--bindir"], "pg_config")).trim();
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Root may not run Postgres: run its tools as the `postgres` user then. */
const asPostgres = (
  cmd: string[],
) => (Deno.uid() === 0 ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd);

async function waitReady(bin: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await new Deno.Command(`${bin}/pg_isready`, {
      args: ["-q", "-h", "127.0.0.1", "-p", String(port)],
    }).output();
    if (out.success) return;
    if (Date.now() > deadline) {
      throw new Error(`Postgres on ${port} not ready after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The postmaster and its children (backends, checkpointer, …), by pid from /proc. */
async function serverPids(data: string): Promise<number[]> {
  const postmaster = Number((await Deno.readTextFile(`${data}/postmaster.pid`)).split("\n")[0]);
  const pids = [postmaster];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      // pid (comm) state ppid …: comm may hold spaces, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === postmaster) pids.push(Number(entry.name));
    } catch { /* gone meanwhile */ }
  }
  return pids;
}

/** Send `signal` to the server's processes, the postmaster first (it forks no new ones then). */
async function signalServer(data: string, signal: Deno.Signal): Promise<void> {
  for (const pid of await serverPids(data)) {
    try {
      Deno.kill(pid, signal);
    } catch { /* exited meanwhile */ }
  }
}

/** initdb + start a private server; `close()` stops it and removes its files. */
export async function startPrivatePostgres(): Promise<RestartablePostgres> {
  const bin = await bindir();
  const dir = await Deno.makeTempDir({ prefix: "edgeflow-pg-" });
  if (Deno.uid() === 0) await run(["chown", "postgres", dir], "chown");
  const data = `${dir}/data`;
  const port = freePort();
  await run(
    asPostgres([`${bin}/initdb`, "-D", data, "-U", "postgres", "-A", "trust", "--no-sync"]),
    "initdb",
  );
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=100`;
  const ctl = (...args: string[]) =>
    run(
      asPostgres([`${bin}/pg_ctl`, "-D", data, "-l", `${dir}/log`, "-w", "-t", "30", ...args]),
      "pg_ctl",
    );
  await ctl("-o", opts, "start");
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async restart() {
      await ctl("-m", "immediate", "stop");
      await ctl("-o", opts, "start");
    },
    freeze: () => signalServer(data, "SIGSTOP"),
    thaw: () => signalServer(data, "SIGCONT"),
    ready: (timeoutMs = 30_000) => waitReady(bin, port, timeoutMs),
    async close() {
      await signalServer(data, "SIGCONT").catch(() => {});
      await ctl("-m", "immediate", "stop").catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** The machine's own cluster, restarted with pg_ctlcluster (EDGEFLOW_FAULT_RESTART=shared). */
export async function sharedPostgres(url: string): Promise<RestartablePostgres> {
  const bin = await bindir();
  const version = [...Deno.readDirSync("/etc/postgresql")].map((e) => e.name).sort().pop()!;
  const port = Number(new URL(url).port || 5432);
  return {
    url,
    async restart() {
      await run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        "pg_ctlcluster",
      );
    },
    freeze: () => Promise.reject(new Error("freeze needs the private server")),
    thaw: () => Promise.resolve(),
    ready: (timeoutMs = 30_000) => waitReady(bin, port, timeoutMs),
    close: async () => {},
  };
}
