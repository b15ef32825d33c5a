/**
 * Parameter mapping: the `parameters` of a webhook are JSON whose strings may
 * hold `{{ body.a.b }}`, `{{ headers.x-github-event }}` or `{{ query.x }}`
 * expressions. A string that is exactly one expression takes the value with
 * its JSON type (an object stays an object, a number a number); any other
 * string interpolates text. A missing path is `null` (as a whole value) or
 * empty text, and is reported so that a schema refusing it names the template.
 *
 * No code runs: an expression is a root and a path of keys and indices, read
 * by walking the parsed JSON. The cost is bounded by the template: at most
 * `MAX_EXPRESSIONS` expressions of at most `MAX_SEGMENTS` steps, checked when
 * the webhook is saved.
 */
import { type FieldError, formatPath } from "../http/error_path.ts";

export const MAX_EXPRESSIONS = 200;
export const MAX_SEGMENTS = 32;

/** What an expression can read. Header names are lower-case. */
export interface TemplateContext {
  body: unknown;
  headers: Record<string, string>;
  query: Record<string, string>;
}

const WHOLE = /^\s*\{\{([^{}]*)\}\}\s*$/;
const ANY = /\{\{([^{}]*)\}\}/g;
const ROOTS = new Set(["body", "headers", "query"]);
const KEY = /^[^.\[\]\s"]+/;

/** The steps of an expression (`body.commits[0].id` → ["body","commits",0,"id"]), or an error. */
export function parseExpression(expr: string): (string | number)[] | string {
  const text = expr.trim();
  const out: (string | number)[] = [];
  let rest = text;
  const first = KEY.exec(rest);
  if (!first || !ROOTS.has(first[0])) return "an expression starts with body, headers or query";
  out.push(first[0]);
  rest = rest.slice(first[0].length);
  while (rest.length > 0) {
    let m: RegExpExecArray | null;
    if (rest[0] === "." && (m = KEY.exec(rest.slice(1)))) {
      out.push(/^\d+$/.test(m[0]) ? Number(m[0]) : m[0]);
      rest = rest.slice(1 + m[0].length);
    } else if ((m = /^\[(\d+)\]/.exec(rest))) {
      out.push(Number(m[1]));
      rest = rest.slice(m[0].length);
    } else if ((m = /^\["((?:[^"\\]|\\.)*)"\]/.exec(rest))) {
      out.push(JSON.parse(`"${m[1]}"`));
      rest = rest.slice(m[0].length);
    } else {
      return `cannot read the expression from ${JSON.stringify(rest.slice(0, 20))} on`;
    }
    if (out.length > MAX_SEGMENTS + 1) return `an expression has at most ${MAX_SEGMENTS} steps`;
  }
  return out;
}

/** Problems of a webhook's `parameters` template, each at its path segments (empty: usable). */
export function templateIssues(template: unknown): { segments: PropertyKey[]; message: string }[] {
  const issues: { segments: PropertyKey[]; message: string }[] = [];
  let count = 0;
  walk(template, [], (text, path) => {
    for (const m of text.matchAll(ANY)) {
      count++;
      const parsed = parseExpression(m[1]);
      if (typeof parsed === "string") issues.push({ segments: path, message: parsed });
    }
    if (/\{\{(?![^{}]*\}\})/.test(text)) issues.push({ segments: path, message: "an unclosed {{" });
    return text;
  });
  if (count > MAX_EXPRESSIONS) {
    issues.push({ segments: [], message: `at most ${MAX_EXPRESSIONS} expressions` });
  }
  return issues;
}

/** `templateIssues` as field errors under `prefix`. */
export function checkTemplate(template: unknown, prefix = "parameters"): FieldError[] {
  return templateIssues(template).map((i) => ({
    path: formatPath(i.segments, prefix),
    message: i.message,
  }));
}

/** A missing value an expression asked for. */
export interface MissingValue {
  /** Where in the parameters (`parameters.sha`). */
  path: string;
  /** The expression (`body.after`). */
  expression: string;
}

/**
 * The parameters a delivery maps to, and the expressions that found nothing.
 * `maxChars` bounds what the rendering may build (JSON characters of the
 * values it reads): 200 expressions of a 1 MiB field would otherwise build
 * 200 MiB before any size check. Past it, `oversize` is set and the rest of
 * the template is not read.
 */
export function applyTemplate(
  template: Record<string, unknown>,
  ctx: TemplateContext,
  maxChars = Infinity,
): { parameters: Record<string, unknown>; missing: MissingValue[]; oversize: boolean } {
  const missing: MissingValue[] = [];
  let used = 0;
  let oversize = false;
  const spend = (v: unknown) => {
    if (maxChars === Infinity || v === null) return;
    used += typeof v === "string" ? v.length : (JSON.stringify(v) ?? "").length;
    if (used > maxChars) oversize = true;
  };
  const lookup = (expr: string, path: PropertyKey[]) => {
    if (oversize) return null;
    const steps = parseExpression(expr) as (string | number)[];
    let node: unknown = ctx[steps[0] as keyof TemplateContext];
    for (const step of steps.slice(1)) {
      node = node !== null && typeof node === "object" && Object.hasOwn(node, step)
        ? (node as Record<string, unknown>)[step]
        : undefined;
      if (node === undefined) break;
    }
    if (node === undefined) {
      missing.push({ path: formatPath(path, "parameters"), expression: expr.trim() });
      return null;
    }
    spend(node);
    return oversize ? null : node;
  };
  const parameters = walk(template, [], (text, path) => {
    const whole = WHOLE.exec(text);
    if (whole) return lookup(whole[1], path);
    return text.replace(ANY, (_, expr: string) => {
      const v = lookup(expr, path);
      if (v === null) return "";
      return typeof v === "string" ? v : JSON.stringify(v);
    });
  }) as Record<string, unknown>;
  return { parameters, missing, oversize };
}

/** A copy of `value` with every string replaced by `fn` (depth is bounded by the 64 of bodies). */
function walk(
  value: unknown,
  path: PropertyKey[],
  fn: (text: string, path: PropertyKey[]) => unknown,
): unknown {
  if (typeof value === "string") return fn(value, path);
  if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i], fn));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k], fn)]),
    );
  }
  return value;
}
