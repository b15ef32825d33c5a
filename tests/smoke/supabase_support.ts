/** Process plumbing of tests/smoke/supabase_smoke.ts: ports, children, /proc CPU. */

export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A child whose output is kept (printed if the test fails) and that `stop` ends. */
export function spawnLogged(
  label: string,
  cmd: string[],
  opts: { cwd: string; env: Record<string, string> },
): { pid: number; stop: () => Promise<void> } {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: opts.cwd,
    env: opts.env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const decoder = new TextDecoder();
  const keep = (s: ReadableStream<Uint8Array>) =>
    s.pipeTo(
      new WritableStream({
        write: (chunk) => void (log += decoder.decode(chunk, { stream: true })),
      }),
    ).catch(() => {});
  const done = Promise.all([keep(child.stdout), keep(child.stderr)]);
  let ended = false;
  child.status.then((s) => {
    ended = true;
    if (!s.success && s.signal === null) console.error(`--- ${label} exited ${s.code}:\n${log}`);
  });
  globalThis.addEventListener("unload", () => {
    if (!ended) child.kill("SIGKILL");
  });
  return {
    pid: child.pid,
    stop: async () => {
      if (!ended) child.kill("SIGTERM");
      await child.status;
      await done;
      if (Deno.env.get("EDGEFLOW_SMOKE_LOGS") === "1") console.error(`--- ${label}:\n${log}`);
    },
  };
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the command name (which is in parentheses and may hold spaces).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  return ticks * 10; // USER_HZ is 100 on Linux
}
