/**
 * `deno task build:sdk`: builds `@edgeflow/sdk` into sdk/ts/dist/, the root
 * of both published packages:
 * - src/: the TypeScript sources (shared/worker/, the client) with their
 *   imports made package-relative — what JSR publishes (dist/deno.json);
 * - esm/: plain ES2022 modules and .d.ts types emitted by `tsc` — what npm
 *   publishes (dist/package.json).
 *
 * tsc rather than a bundler: one tool gives both the JS and the types, the
 * output keeps one module per source file (readable stack traces), and
 * `rewriteRelativeImportExtensions` turns our `.ts` imports into `.js`.
 * TypeScript 5.9 from npm (7.x is the native port, a platform binary).
 */
const ROOT = new URL("../", import.meta.url).pathname;
const SDK = `${ROOT}sdk/ts/`;
const DIST = `${SDK}dist/`;
// The version is pinned in deno.json's imports (so `deno install` caches it).
const TSC = "npm:typescript@5.9.3/tsc";

async function copyTree(from: string, to: string, rewrite: (text: string) => string) {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (!e.isFile || !e.name.endsWith(".ts")) continue;
    await Deno.writeTextFile(
      `${to}${e.name}`,
      rewrite(await Deno.readTextFile(`${from}${e.name}`)),
    );
  }
}

await Deno.remove(DIST, { recursive: true }).catch(() => {});
const same = (t: string) => t;
await copyTree(`${ROOT}shared/worker/`, `${DIST}src/worker/`, same);
await Deno.mkdir(`${DIST}src/api/`, { recursive: true });
await Deno.copyFile(`${ROOT}shared/api/claimed_task.ts`, `${DIST}src/api/claimed_task.ts`);
await copyTree(
  `${SDK}src/`,
  `${DIST}src/`,
  (t) => t.replaceAll("../../../shared/worker/", "./worker/"),
);

// Nothing outside the package may be imported: a stray import would break both registries.
for (const dir of ["", "worker/", "api/"]) {
  for await (const e of Deno.readDir(`${DIST}src/${dir}`)) {
    if (!e.isFile) continue;
    const text = await Deno.readTextFile(`${DIST}src/${dir}${e.name}`);
    for (const m of text.matchAll(/^(?:import|export|\}) [^\n]*?from "([^"]+)"/gm)) {
      const target = new URL(m[1], `file://${DIST}src/${dir}`).pathname;
      if (!m[1].startsWith(".") || !target.startsWith(`${DIST}src/`)) {
        throw new Error(`src/${dir}${e.name} imports ${m[1]}, outside the package`);
      }
    }
  }
}

const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    module: "ESNext",
    moduleResolution: "Bundler",
    lib: ["ES2022", "DOM"],
    strict: true,
    declaration: true,
    rewriteRelativeImportExtensions: true,
    skipLibCheck: true,
    rootDir: "./src",
    outDir: "./esm",
    types: [],
  },
  include: ["src/**/*.ts"],
};
await Deno.writeTextFile(`${DIST}tsconfig.json`, JSON.stringify(tsconfig, null, 2));
const tsc = await new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", TSC, "-p", `${DIST}tsconfig.json`],
  cwd: DIST,
}).output();
await Deno.stdout.write(tsc.stdout);
await Deno.stderr.write(tsc.stderr);
if (!tsc.success) Deno.exit(1);
await Deno.remove(`${DIST}tsconfig.json`);

// Declarations keep the `.ts` specifiers as written; Node's resolver wants
// `.js`. Each module names its declarations for Deno (`@ts-self-types`),
// which does not look for a `.d.ts` beside a `.js` by itself.
for (const dir of ["", "worker/", "api/"]) {
  for await (const e of Deno.readDir(`${DIST}esm/${dir}`)) {
    if (!e.isFile) continue;
    const path = `${DIST}esm/${dir}${e.name}`;
    const text = await Deno.readTextFile(path);
    if (e.name.endsWith(".d.ts")) {
      await Deno.writeTextFile(path, text.replace(/(from "\.{1,2}\/[^"]+)\.ts"/g, '$1.js"'));
    } else if (e.name.endsWith(".js")) {
      const types = `./${e.name.replace(/\.js$/, ".d.ts")}`;
      await Deno.writeTextFile(path, `// @ts-self-types="${types}"\n${text}`);
    }
  }
}

for (const f of ["package.json", "README.md"]) await Deno.copyFile(`${SDK}${f}`, `${DIST}${f}`);
// JSR's manifest: the package root is dist/, its entry the TypeScript source.
const jsr = JSON.parse(await Deno.readTextFile(`${SDK}jsr.json`));
await Deno.writeTextFile(`${DIST}deno.json`, JSON.stringify(jsr, null, 2) + "\n");
const pkg = JSON.parse(await Deno.readTextFile(`${SDK}package.json`));
if (pkg.version !== jsr.version) {
  throw new Error("sdk/ts: package.json and jsr.json versions differ");
}
console.log(`built ${pkg.name}@${pkg.version} into sdk/ts/dist/`);
