/**
 * The SQL source tree (`sql/`): reading it in apply order, applying it to an
 * empty database, and the comment blocks that survive a rewrite.
 *
 * Apply order (phases, each folder's files sorted by name):
 *   extensions.sql → pgmq/ (only when no `pgmq` schema exists: the real
 *   extension wins, as in migration 0002; `pgmq/schema.sql` first) → schema/
 *   (types, tables, indexes, constraints, sequences) → functions/ → views/ →
 *   triggers/ → data/ (seed rows and pgmq queues).
 * Function bodies are not checked while the tree is applied (as pg_dump does),
 * so functions may call each other in any file order.
 */
import type { Sql } from "../../shared/db/sql.ts";

export const TREE_DIR = new URL("../../sql/", import.meta.url);

export const PHASES = ["extensions", "pgmq", "schema", "functions", "views", "triggers", "data"];
export type Phase = (typeof PHASES)[number];

export interface SourceFile {
  /** Path below `sql/`, with `/`: `functions/edgeflow.claim_tasks.sql`. */
  path: string;
  phase: Phase;
  text: string;
}

export class TreeError extends Error {
  override name = "TreeError";
}

function phaseOf(path: string): Phase | undefined {
  if (path === "extensions.sql") return "extensions";
  const top = path.split("/")[0];
  return PHASES.includes(top) && path.includes("/") ? top : undefined;
}

/** Every `.sql` file of the tree, in apply order; refuses a function defined twice. */
export async function readTree(dir: URL = TREE_DIR): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  async function walk(sub: string) {
    for await (const e of Deno.readDir(new URL(sub, dir))) {
      const path = sub + e.name;
      if (e.isDirectory) await walk(`${path}/`);
      else if (e.isFile && e.name.endsWith(".sql")) {
        const phase = phaseOf(path);
        if (!phase) throw new TreeError(`sql/${path}: not in a folder the tree applies`);
        files.push({ path, phase, text: await Deno.readTextFile(new URL(path, dir)) });
      }
    }
  }
  await walk("");
  files.sort((a, b) =>
    PHASES.indexOf(a.phase) - PHASES.indexOf(b.phase) || rank(a.path) - rank(b.path) ||
    (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
  );
  checkDefinitions(files);
  return files;
}

/** `pgmq/schema.sql` comes before pgmq's functions. */
function rank(path: string): number {
  return path === "pgmq/schema.sql" ? 0 : 1;
}

/** Where each function is defined: a function lives in exactly one file. */
export function checkDefinitions(files: SourceFile[]): Map<string, string> {
  const where = new Map<string, string>();
  for (const f of files) {
    for (const s of statements(f.text)) {
      if (!s.key?.startsWith("function ")) continue;
      const name = s.key.slice("function ".length);
      const other = where.get(name);
      if (other && other !== f.path) {
        throw new TreeError(
          `function ${name} is defined in two files: sql/${other} and sql/${f.path}`,
        );
      }
      where.set(name, f.path);
    }
    const own = /^(?:functions|pgmq)\/([a-z0-9_]+\.[a-z0-9_]+)\.sql$/.exec(f.path)?.[1];
    if (own) {
      for (const s of statements(f.text)) {
        if (s.key?.startsWith("function ") && s.key !== `function ${own}`) {
          throw new TreeError(`sql/${f.path} defines ${s.key.slice(9)}: one function per file`);
        }
      }
    }
  }
  return where;
}

/** Apply the tree to an empty database, in one transaction. */
export async function applyTree(sql: Sql, files: SourceFile[]): Promise<void> {
  await sql.begin(async (tx) => {
    await tx.exec("set local check_function_bodies = off");
    let pgmqPresent: boolean | undefined;
    for (const f of files) {
      if (f.phase === "pgmq") {
        if (pgmqPresent === undefined) {
          const [row] = await tx<{ v: boolean }>`
            select exists (select 1 from pg_catalog.pg_namespace where nspname = 'pgmq') as v`;
          pgmqPresent = row.v;
        }
        if (pgmqPresent) continue;
      }
      try {
        await tx.exec(f.text);
      } catch (err) {
        throw new TreeError(`sql/${f.path}: ${(err as Error).message}`);
      }
    }
  });
}

// ------------------------------------------------------------- statements

export interface Statement {
  /** What the statement defines (`table edgeflow.runs`, `function edgeflow.iso`, …). */
  key?: string;
  /** The comment lines directly above it (no blank line between). */
  comment: string[];
  /** First line of the statement. */
  line: number;
}

const KEYS: [RegExp, (m: RegExpExecArray) => string][] = [
  [
    /^create\s+(?:or\s+replace\s+)?(?:unlogged\s+)?(table|view|materialized\s+view|type|domain|sequence)\s+(?:if\s+not\s+exists\s+)?([\w".]+)/i,
    (m) => `${m[1].toLowerCase().replace(/\s+/g, " ")} ${norm(m[2])}`,
  ],
  [
    /^create\s+(?:or\s+replace\s+)?(?:function|procedure)\s+([\w".]+)\s*\(/i,
    (m) => `function ${norm(m[1])}`,
  ],
  [
    /^create\s+(?:or\s+replace\s+)?(?:constraint\s+)?trigger\s+([\w"]+)/i,
    (m) => `trigger ${norm(m[1])}`,
  ],
  [
    /^create\s+(?:unique\s+)?index\s+(?:concurrently\s+)?(?:if\s+not\s+exists\s+)?([\w"]+)/i,
    (m) => `index ${norm(m[1])}`,
  ],
  [
    /^alter\s+table\s+(?:only\s+)?[\w".]+\s+add\s+constraint\s+([\w"]+)/i,
    (m) => `constraint ${norm(m[1])}`,
  ],
  [/^insert\s+into\s+([\w".]+)/i, (m) => `data ${norm(m[1])}`],
  [/^select\s+pgmq\.create\(/i, () => "queues"],
];

function norm(name: string): string {
  return name.replaceAll('"', "").toLowerCase();
}

export function keyOf(line: string): string | undefined {
  for (const [re, key] of KEYS) {
    const m = re.exec(line);
    if (m) return key(m);
  }
  return undefined;
}

const START = /^(create|alter|insert|select|drop|comment|grant|revoke|do|update|delete|set)\b/i;

/**
 * The top-level statements of a script with the comment block above each.
 * Lines inside dollar-quoted bodies are skipped, so a function's own comments
 * stay part of its body.
 */
export function statements(text: string): Statement[] {
  const out: Statement[] = [];
  let quote: string | null = null;
  let pending: string[] = [];
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    if (quote === null) {
      if (/^\s*--/.test(line)) pending.push(line);
      else if (line.trim() === "") pending = [];
      else {
        if (START.test(line)) out.push({ key: keyOf(line), comment: pending, line: i });
        pending = [];
      }
    }
    quote = trackQuote(line, quote);
  });
  return out;
}

/** The dollar quote open after `line`, given the one open before it. */
function trackQuote(line: string, open: string | null): string | null {
  let rest = line;
  for (;;) {
    if (open !== null) {
      const at = rest.indexOf(open);
      if (at < 0) return open;
      rest = rest.slice(at + open.length);
      open = null;
      continue;
    }
    const code = rest.replace(/'(?:[^']|'')*'/g, "''").replace(/--.*$/, "");
    const m = /\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(code);
    if (!m) return null;
    open = m[0];
    rest = code.slice(m.index + m[0].length);
  }
}

/** The file's own header: its leading comment block when a blank line follows it. */
export function fileHeader(text: string): string[] {
  const lines = text.split("\n");
  const header: string[] = [];
  for (const line of lines) {
    if (/^\s*--/.test(line)) header.push(line);
    else if (line.trim() === "") return header;
    else return [];
  }
  return header;
}

/** Comment blocks by statement key, in order of appearance. */
export function commentsByKey(text: string): Map<string, string[][]> {
  const m = new Map<string, string[][]>();
  for (const s of statements(text)) {
    if (!s.key) continue;
    const list = m.get(s.key) ?? [];
    list.push(s.comment);
    m.set(s.key, list);
  }
  return m;
}
