/**
 * The `parameters` template of a `deployment` step: what the step hands its
 * child run. Any JSON object; in its strings, `{{ ref }}` refers to data of
 * the parent run when the step starts:
 *
 * - `run` / `run.<key>`: the run's parameters, or one of them;
 * - `deps.<slug>`: the output of a step in `depends_on`;
 * - `item`: the element of a map step;
 *
 * each optionally followed by a JSON pointer into that value
 * (`deps.fetch/rows/0`, `run.config/region`; RFC 6901, `~1` is `/`).
 * A string that is exactly one reference takes the referenced value with its
 * JSON type (`"{{ deps.fetch/rows }}"` is the array); references inside
 * longer strings are replaced by their text (strings as they are, anything
 * else as JSON). Chosen over `{"$ref": …}` objects because a JSON Schema on
 * either side may itself use `$ref`, and `{{ }}` reads like the templates of
 * Prefect's job variables. Checked at registration (`checkStepTemplate`),
 * resolved when the step starts (`resolveStepTemplate`).
 */
import { type FieldError, formatPath } from "../http/error_path.ts";

/** One parsed `{{ … }}` reference. */
export interface TemplateRef {
  /** `run`, `deps` or `item`. */
  root: "run" | "deps" | "item";
  /** The run parameter or dependency slug after the dot (`run.<key>`, `deps.<slug>`). */
  name: string | null;
  /** JSON pointer segments after the name. */
  pointer: string[];
  /** As written, for messages. */
  text: string;
}

/** What a template's references resolve against. */
export interface TemplateContext {
  run: Record<string, unknown>;
  deps: Record<string, unknown>;
  /** Present for map steps only. */
  item?: unknown;
}

const REF = /\{\{\s*(.*?)\s*\}\}/g;
const WHOLE = /^\s*\{\{\s*(.*?)\s*\}\}\s*$/;
const HEAD = /^(run|deps|item)(?:\.([^/]+))?((?:\/.*)?)$/;

/** Parses one reference; a string error when it is not one. */
export function parseRef(text: string): TemplateRef | string {
  const m = HEAD.exec(text);
  if (!m) {
    return `"${text}" is not a reference: use run, run.<key>, deps.<slug> or item, ` +
      `optionally followed by a JSON pointer such as /rows/0`;
  }
  const root = m[1] as TemplateRef["root"];
  if (root === "deps" && !m[2]) return `"${text}": name the dependency (deps.<slug>)`;
  if (root === "item" && m[2]) return `"${text}": item takes a JSON pointer (item/key), not .key`;
  const pointer = m[3] ? m[3].slice(1).split("/") : [];
  if (pointer.some((s) => /~(?![01])/.test(s))) {
    return `"${text}": in a JSON pointer "~" must be written ~0 (and "/" ~1)`;
  }
  return {
    root,
    name: m[2] ?? null,
    pointer: pointer.map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~")),
    text,
  };
}

/** Every string of `value` with its path segments. */
function* strings(value: unknown, at: PropertyKey[] = []): Generator<[string, PropertyKey[]]> {
  if (typeof value === "string") yield [value, at];
  else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) yield* strings(v, [...at, i]);
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) yield* strings(v, [...at, k]);
  }
}

/**
 * Problems of a step's template, with paths under `prefix`
 * (`steps[1].parameters.rows`): not an object, malformed references, a
 * `deps.<slug>` that is not in `depends_on`, `item` outside a map step.
 */
export function checkStepTemplate(
  template: unknown,
  step: { depends_on?: string[]; map?: string | null },
  prefix: string,
): FieldError[] {
  if (template === null || typeof template !== "object" || Array.isArray(template)) {
    return [{ path: prefix, message: "must be an object: it becomes the child run's parameters" }];
  }
  const errors: FieldError[] = [];
  const deps = new Set(step.depends_on ?? []);
  for (const [text, at] of strings(template)) {
    for (const [, inner] of text.matchAll(REF)) {
      const path = formatPath(at, prefix);
      const ref = parseRef(inner);
      if (typeof ref === "string") errors.push({ path, message: ref });
      else if (ref.root === "deps" && !deps.has(ref.name!)) {
        errors.push({
          path,
          message: `"${ref.text}": "${ref.name}" is not in this step's depends_on`,
        });
      } else if (ref.root === "item" && step.map == null) {
        errors.push({ path, message: `"${ref.text}": item exists only in a map step` });
      }
    }
  }
  return errors;
}

const MISSING = Symbol("missing");

function lookup(ref: TemplateRef, ctx: TemplateContext): unknown {
  let value: unknown;
  if (ref.root === "item") value = "item" in ctx ? ctx.item : MISSING;
  else {
    const base = ref.root === "run" ? ctx.run : ctx.deps;
    value = ref.name === null ? base : Object.hasOwn(base, ref.name) ? base[ref.name] : MISSING;
  }
  for (const segment of ref.pointer) {
    if (value === MISSING) break;
    if (Array.isArray(value) && /^(0|[1-9][0-9]*)$/.test(segment)) {
      value = Number(segment) < value.length ? value[Number(segment)] : MISSING;
    } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      value = Object.hasOwn(value, segment) ? (value as Record<string, unknown>)[segment] : MISSING;
    } else value = MISSING;
  }
  return value;
}

/**
 * The template with every reference replaced, or the errors (path under
 * `prefix`, e.g. `parameters.rows`) of references that point at nothing.
 */
export function resolveStepTemplate(
  template: Record<string, unknown>,
  ctx: TemplateContext,
  prefix = "parameters",
): { value: Record<string, unknown>; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const resolve = (ref: TemplateRef | string, at: PropertyKey[]): unknown => {
    const found = typeof ref === "string" ? MISSING : lookup(ref, ctx);
    if (found === MISSING) {
      const what = typeof ref === "string" ? ref : `"${ref.text}" refers to nothing`;
      errors.push({ path: formatPath(at, prefix), message: what });
      return null;
    }
    return found;
  };
  const walk = (node: unknown, at: PropertyKey[]): unknown => {
    if (typeof node === "string") {
      const whole = WHOLE.exec(node);
      if (whole && !whole[1].includes("}}")) return resolve(parseRef(whole[1]), at);
      return node.replace(REF, (_, inner: string) => {
        const v = resolve(parseRef(inner), at);
        return typeof v === "string" ? v : JSON.stringify(v);
      });
    }
    if (Array.isArray(node)) return node.map((v, i) => walk(v, [...at, i]));
    if (node !== null && typeof node === "object") {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, [...at, k])]));
    }
    return node;
  };
  return { value: walk(template, []) as Record<string, unknown>, errors };
}
