/**
 * A Python image built on this machine, since none can be pulled: Debian's
 * python3.11, the libraries `ldd` lists, its standard library, the runner
 * as `edgeflow/run.py` (what the Python SDK's `python -m edgeflow.run`
 * will be) and the trex example's flows in /app. Tagged by a hash of what
 * goes in, so a second run (and CI's) reuses it: ~1.5 s to build, 0 after.
 */
import { ROOT } from "./helpers.ts";

const PYTHON = "/usr/bin/python3.11";

async function sh(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${text.decode(out.stderr)}`);
  }
  return text.decode(out.stdout);
}

async function hashOf(files: string[]): Promise<string> {
  const parts = await Promise.all(files.map((f) => Deno.readFile(f)));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) all.set(p, (at += p.length) - p.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Builds (or finds) the image; returns its repository and tag. */
export async function trexImage(docker: string[]): Promise<{ repo: string; tag: string }> {
  const [bin, ...globals] = docker;
  const sources = [
    `${ROOT}runners/python/edgeflow_run.py`,
    `${ROOT}examples/trex/flows/sync.py`,
    `${ROOT}examples/trex/flows/reports.py`,
  ];
  const repo = "localhost/myorg/workflows";
  const tag = await hashOf([...sources, new URL(import.meta.url).pathname]);
  const exists = await new Deno.Command(bin, {
    args: [...globals, "image", "exists", `${repo}:${tag}`],
    stdout: "null",
    stderr: "null",
  }).output();
  if (exists.success) return { repo, tag };

  const dir = await Deno.makeTempDir({ prefix: "edgeflow-image-" });
  try {
    const libs = (await sh("ldd", [PYTHON])).split("\n")
      .map((l) => l.match(/(\/\S+)\s+\(0x/)?.[1])
      .filter((l): l is string => !!l);
    for (const file of [PYTHON, ...libs]) {
      await Deno.mkdir(`${dir}${file.replace(/\/[^/]+$/, "")}`, { recursive: true });
      await sh("cp", ["-L", file, `${dir}${file}`]);
    }
    await Deno.symlink("python3.11", `${dir}/usr/bin/python3`);
    await Deno.symlink("python3.11", `${dir}/usr/bin/python`);
    await Deno.mkdir(`${dir}/usr/lib`, { recursive: true });
    await sh("cp", ["-a", "/usr/lib/python3.11", `${dir}/usr/lib/python3.11`]);
    await Deno.mkdir(`${dir}/usr/lib/python3.11/edgeflow`, { recursive: true });
    await Deno.writeTextFile(`${dir}/usr/lib/python3.11/edgeflow/__init__.py`, "");
    await Deno.copyFile(sources[0], `${dir}/usr/lib/python3.11/edgeflow/run.py`);
    await Deno.mkdir(`${dir}/app/flows`, { recursive: true });
    await Deno.mkdir(`${dir}/tmp`, { recursive: true });
    for (const f of sources.slice(1)) {
      await Deno.copyFile(f, `${dir}/app/flows/${f.split("/").pop()}`);
    }
    await sh("tar", ["-C", dir, "-cf", `${dir}.tar`, "."]);
    await sh(bin, [
      ...globals,
      "import",
      "--change",
      "WORKDIR=/app",
      "--change",
      "ENV=PATH=/usr/bin:/bin",
      `${dir}.tar`,
      `${repo}:${tag}`,
    ]);
    return { repo, tag };
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(`${dir}.tar`).catch(() => {});
  }
}
