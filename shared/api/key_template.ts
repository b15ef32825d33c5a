/**
 * Templates of events and waits (issue 16): a wait's `key`
 * (`"{{ run.order_id }}"`), a `cancel_on` key, a per-key `concurrency` key,
 * a deployment trigger's `parameters` (`{"repo": "{{ event.key }}"}`).
 *
 * The same `{{ ref }}` syntax as a deployment step's `parameters`
 * (shared/api/step_parameters.ts): a ref is `root`, `root.name`, either
 * followed by a JSON pointer (`run.order/id`, `event.payload/ref`). Which
 * roots a template may use depends on where it stands and is checked here,
 * at registration or deploy time, so a typo is a 422 naming the field, not
 * a run that waits forever. Keys are rendered in SQL
 * (`edgeflow._render_template`, text); trigger parameters here (typed values,
 * so `"{{ event.payload/count }}"` stays a number).
 */
import type { FieldError } from "../http/error_path.ts";

const REF = /\{\{([^}]*)\}\}/g;
const WHOLE = /^\{\{([^}]*)\}\}$/;
const HEAD = /^([a-z]+)(?:\.([^/]+))?((?:\/.*)?)$/;

/** One parsed reference: the JSON path it names under the context object. */
interface Ref {
  root: string;
  path: string[];
  text: string;
}

function parse(inner: string): Ref | null {
  const text = inner.trim();
  const m = HEAD.exec(text);
  if (!m) return null;
  const pointer = m[3] ? m[3].slice(1).split("/") : [];
  if (pointer.some((s) => /~(?![01])/.test(s))) return null;
  return {
    root: m[1],
    path: [
      m[1],
      ...(m[2] ? [m[2]] : []),
      ...pointer.map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~")),
    ],
    text,
  };
}

/** What a template may refer to: its roots, and for `deps` the slugs allowed. */
export interface TemplateScope {
  roots: readonly string[];
  deps?: readonly string[];
}

/** What is wrong with the refs of one template string (empty: nothing). */
export function templateProblems(text: string, scope: TemplateScope): string[] {
  const errors: string[] = [];
  for (const [, inner] of text.matchAll(REF)) {
    const ref = parse(inner);
    const roots = scope.roots.join(", ");
    if (!ref) {
      errors.push(
        `"${inner.trim()}" is not a reference: use one of ${roots}, ` +
          `optionally .<name> and a JSON pointer such as /id`,
      );
    } else if (!scope.roots.includes(ref.root)) {
      errors.push(`"${ref.text}": only ${roots} can be referred to here`);
    } else if (ref.root === "deps" && (ref.path.length < 2 || !scope.deps?.includes(ref.path[1]))) {
      errors.push(`"${ref.text}": name a step of this step's depends_on`);
    }
  }
  if (text.replace(REF, "").includes("{{")) {
    errors.push("an unclosed {{");
  }
  return errors;
}

/** Problems of one template string, each at `path`. */
export function checkKeyTemplate(text: string, scope: TemplateScope, path: string): FieldError[] {
  return templateProblems(text, scope).map((message) => ({ path, message }));
}

/** Every string of a JSON value, with its path segments. */
function* strings(value: unknown, at: PropertyKey[] = []): Generator<[string, PropertyKey[]]> {
  if (typeof value === "string") yield [value, at];
  else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) yield* strings(v, [...at, i]);
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) yield* strings(v, [...at, k]);
  }
}

/** Problems of every template string inside a JSON value, with their path segments. */
export function valueTemplateProblems(
  value: unknown,
  scope: TemplateScope,
): { path: PropertyKey[]; message: string }[] {
  return [...strings(value)].flatMap(([text, at]) =>
    templateProblems(text, scope).map((message) => ({ path: at, message }))
  );
}

function lookup(ref: Ref, ctx: Record<string, unknown>): unknown {
  let value: unknown = ctx;
  for (const segment of ref.path) {
    if (Array.isArray(value) && /^(0|[1-9][0-9]*)$/.test(segment)) value = value[Number(segment)];
    else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      value = Object.hasOwn(value, segment)
        ? (value as Record<string, unknown>)[segment]
        : undefined;
    } else value = undefined;
    if (value === undefined) return undefined;
  }
  return value;
}

/**
 * A JSON value with its template strings rendered against `ctx`: a string
 * that is exactly one ref takes the value with its JSON type; refs inside
 * longer strings become text. A ref naming nothing renders as null (as a
 * whole value) or "" (inside text).
 */
export function renderValueTemplate(value: unknown, ctx: Record<string, unknown>): unknown {
  if (typeof value === "string") {
    const whole = WHOLE.exec(value.trim());
    if (whole) {
      const ref = parse(whole[1]);
      return ref ? lookup(ref, ctx) ?? null : null;
    }
    return value.replace(REF, (_, inner: string) => {
      const ref = parse(inner);
      const v = ref ? lookup(ref, ctx) : undefined;
      return v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
    });
  }
  if (Array.isArray(value)) return value.map((v) => renderValueTemplate(v, ctx));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, renderValueTemplate(v, ctx)]),
    );
  }
  return value;
}
