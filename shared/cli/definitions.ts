/**
 * Reading flow and deployment definitions from files: JSON, YAML (one or
 * several documents) or a JS/TS module. A file may hold one definition, a
 * list, or `{"flows": […]}` / `{"deployments": […]}`; a module's default
 * export and named exports count when they look like definitions, so a
 * module can export flows next to helpers. The server validates the bodies;
 * this only finds them.
 */
import { parseAllDocuments } from "yaml";
import { CliError, type CliIo } from "./io.ts";

/** What is being read: flows (`register`) or deployments (`deploy`). */
export type DefinitionKind = "flow" | "deployment";

type Json = Record<string, unknown>;

const MODULE = /\.(ts|mts|js|mjs|tsx|jsx)$/i;

/** Reads every definition of `kind` in `path`, in file order. */
export async function loadDefinitions(
  io: CliIo,
  path: string,
  kind: DefinitionKind,
): Promise<Json[]> {
  if (MODULE.test(path)) return fromModule(await importOrFail(io, path), path, kind);
  const values = parseText(await readOrFail(io, path), path);
  const found = values.flatMap((v, i) => collect(v, kind, path, values.length > 1 ? i : -1));
  if (!found.length) throw new CliError(`${path} holds no ${kind} definitions`);
  return found;
}

/** Reads a file, or fails naming it. */
export async function readOrFail(io: CliIo, path: string): Promise<string> {
  try {
    return await io.readTextFile(path);
  } catch (err) {
    throw new CliError(`cannot read ${path}`, [(err as Error).message]);
  }
}

/** JSON when the file says so (or parses as JSON), YAML otherwise; every document of a YAML stream. */
export function parseText(text: string, path: string): unknown[] {
  if (/\.json$/i.test(path) || /^\s*[[{]/.test(text) && !/\.ya?ml$/i.test(path)) {
    try {
      return [JSON.parse(text)];
    } catch (err) {
      if (/\.json$/i.test(path)) {
        throw new CliError(`${path} is not valid JSON`, [(err as Error).message]);
      }
      // Flow-style YAML can start with `{` too: let the YAML parser have a go.
    }
  }
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const errors = list.flatMap((d) => d.errors);
  if (errors.length) {
    throw new CliError(
      `${path} is not valid YAML`,
      errors.map((e) => {
        const at = e.linePos ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : "";
        return `${e.message.split("\n")[0]}${at}`;
      }),
    );
  }
  return list.map((d) => d.toJS());
}

function collect(value: unknown, kind: DefinitionKind, path: string, doc: number): Json[] {
  const where = doc >= 0 ? `${path} (document ${doc + 1})` : path;
  if (isObject(value)) {
    const hint = foreignFormat(value);
    if (hint) throw new CliError(`${where} is ${hint.what}`, [`use: ${hint.use} ${path}`]);
    const list = value[`${kind}s`];
    if (Array.isArray(list)) return checked(list, `${kind}s`, where, kind);
    return [value];
  }
  if (Array.isArray(value)) return checked(value, "", where, kind);
  if (value === null || value === undefined) return [];
  throw new CliError(`${where} must hold a ${kind} object or a list of them`);
}

function checked(list: unknown[], key: string, where: string, kind: DefinitionKind): Json[] {
  list.forEach((item, i) => {
    if (!isObject(item)) {
      throw new CliError(`${where}: ${key}[${i}] must be a ${kind} object`);
    }
  });
  return list as Json[];
}

/** Configurations of the seed systems have importers of their own. */
function foreignFormat(value: Json): { what: string; use: string } | undefined {
  if (["prefect_flows", "prefect_deployments", "prefect_work_pools"].some((k) => k in value)) {
    return { what: "a Prefect YAML definition", use: "edgeflow import yaml" };
  }
  if (isObject(value.trex)) return { what: "a trex package.json", use: "edgeflow import trex" };
  return undefined;
}

async function importOrFail(io: CliIo, path: string): Promise<Record<string, unknown>> {
  try {
    return await io.importModule(path);
  } catch (err) {
    throw new CliError(`cannot load module ${path}`, [(err as Error).message.split("\n")[0]]);
  }
}

/**
 * Definitions among a module's exports: the default export, then named ones;
 * each may be a definition or a list of them. The same object exported twice
 * (`export default etl` beside `export const etl`) counts once.
 */
export function fromModule(exports: Record<string, unknown>, path: string, kind: DefinitionKind) {
  const looks = kind === "flow" ? looksLikeFlow : looksLikeDeployment;
  const seen = new Set<unknown>();
  const found: Json[] = [];
  const names = ["default", ...Object.keys(exports).filter((k) => k !== "default")];
  for (const name of names) {
    const value = exports[name];
    const items = Array.isArray(value) && value.every(looks) ? value : [value];
    for (const item of items) {
      if (looks(item) && !seen.has(item)) {
        seen.add(item);
        found.push(item as Json);
      }
    }
  }
  if (!found.length) {
    throw new CliError(`${path} exports no ${kind} definitions`, [
      kind === "flow"
        ? "a flow is an object with a string `name` and a `steps` array (or an `entrypoint`)"
        : "a deployment is an object with string `name` and `flow`",
      `exports found: ${Object.keys(exports).join(", ") || "none"}`,
    ]);
  }
  return found;
}

function looksLikeFlow(v: unknown): boolean {
  return isObject(v) && typeof v.name === "string" &&
    (Array.isArray(v.steps) || typeof v.entrypoint === "string");
}

function looksLikeDeployment(v: unknown): boolean {
  return isObject(v) && typeof v.name === "string" && typeof v.flow === "string";
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
