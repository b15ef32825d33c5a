/** `Spawn` on Deno (shared/executors/child.ts): a child process with piped stdio. */
import type { Child, Spawn } from "../executors/child.ts";

/** Starts a process with `Deno.Command`; its environment is ours plus `env`. */
export const denoSpawn: Spawn = (command, args, options) => {
  const proc = new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = proc.stdin.getWriter();
  void writer.write(new TextEncoder().encode(options.stdin ?? ""))
    .then(() => writer.close())
    .catch(() => {}); // the child may exit without reading its stdin
  const child: Child = {
    stdout: proc.stdout,
    stderr: proc.stderr,
    status: proc.status.then((s) => (s.signal ? 128 + signalNumber(s.signal) : s.code)),
    kill: (signal) => {
      try {
        proc.kill(signal);
      } catch {
        // already exited
      }
    },
  };
  return child;
};

function signalNumber(signal: string): number {
  return ({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2 } as Record<string, number>)[signal] ?? 0;
}
