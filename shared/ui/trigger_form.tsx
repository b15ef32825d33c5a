// deno-lint-ignore-file jsx-key
// (Rendered once on the server: there is no reconciliation for keys to help, and
// precompiled JSX would print `key` as an HTML attribute.)
/**
 * The trigger form: one input per top-level parameter of the flow's JSON
 * Schema (text, number, true/false, or JSON for objects and arrays), filled
 * with the deployment's defaults. The browser checks what HTML can
 * (required, numbers); the server validates against the schema through the
 * trigger API itself and shows each error beside its field.
 */
import type { JsonSchema } from "../api/params.ts";
import type { FieldError } from "../http/problem.ts";
import { Page, type Ui } from "./layout.tsx";

/** One form input for a top-level parameter. */
export interface ParamField {
  name: string;
  kind: "string" | "number" | "integer" | "boolean" | "json";
  required: boolean;
  options?: string[];
  description?: string;
}

/** The inputs for `schema`; a schema without properties gets one JSON field for everything. */
export function fieldsOf(schema: JsonSchema | null): ParamField[] | null {
  const props = schema?.properties;
  if (!props || typeof props !== "object" || Object.keys(props).length === 0) return null;
  const required = new Set(Array.isArray(schema?.required) ? schema.required : []);
  return Object.entries(props as Record<string, Record<string, unknown>>).map(([name, p]) => {
    const type = Array.isArray(p?.type) ? p.type.find((t) => t !== "null") : p?.type;
    const kind = type === "string" || type === "number" || type === "integer" || type === "boolean"
      ? type
      : "json";
    const options = Array.isArray(p?.enum) && p.enum.every((v) => typeof v === "string")
      ? p.enum as string[]
      : undefined;
    const description = typeof p?.description === "string" ? p.description : undefined;
    return { name, kind, required: required.has(name), options, description };
  });
}

/**
 * Parameters from the posted form. Empty inputs are left out (the
 * deployment's defaults apply); a value that is not of its type is passed
 * as typed so the schema reports it, except JSON that does not parse.
 */
export function parseParameters(
  form: URLSearchParams,
  fields: ParamField[] | null,
): { parameters: Record<string, unknown>; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const json = (text: string, path: string): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      errors.push({ path, message: "is not valid JSON" });
      return undefined;
    }
  };
  if (!fields) {
    const text = (form.get("parameters") ?? "").trim();
    const value = text ? json(text, "parameters") : {};
    if (
      value !== undefined && (typeof value !== "object" || value === null || Array.isArray(value))
    ) {
      errors.push({ path: "parameters", message: "must be a JSON object" });
      return { parameters: {}, errors };
    }
    return { parameters: (value ?? {}) as Record<string, unknown>, errors };
  }
  const parameters: Record<string, unknown> = {};
  for (const f of fields) {
    const raw = (form.get(`p.${f.name}`) ?? "").trim();
    if (raw === "") continue;
    const path = `parameters.${f.name}`;
    if (f.kind === "json") parameters[f.name] = json(raw, path);
    else if (f.kind === "boolean") {
      parameters[f.name] = raw === "true" ? true : raw === "false" ? false : raw;
    } else if (f.kind === "number" || f.kind === "integer") {
      parameters[f.name] = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(raw) ? Number(raw) : raw;
    } else parameters[f.name] = raw;
  }
  return { parameters, errors };
}

function shown(value: unknown, kind: ParamField["kind"]): string {
  if (value === undefined || value === null) return "";
  return kind === "json" || typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** A trigger page: what is being run, the form, and the errors of the last attempt. */
export function TriggerPage(props: {
  ui: Ui;
  title: string;
  action: string;
  fields: ParamField[] | null;
  values: Record<string, unknown>;
  errors?: FieldError[];
  note?: string;
  /** Makes a double-submitted form start one run (the API's Idempotency-Key). */
  idempotencyKey: string;
}) {
  const errors = props.errors ?? [];
  const errorOf = (path: string) =>
    errors.filter((e) =>
      e.path === path || e.path.startsWith(`${path}.`) || e.path.startsWith(`${path}[`)
    );
  const general = errors.filter((e) =>
    !props.fields?.some((f) => errorOf(`parameters.${f.name}`).includes(e))
  );
  return (
    <Page ui={props.ui} title={props.title}>
      <h1>{props.title}</h1>
      {props.note && <p class="muted">{props.note}</p>}
      {errors.length > 0 && (
        <div class="flash" id="form-errors">
          The parameters do not match the flow's schema.
          {general.map((e) => <div>{e.path}: {e.message}</div>)}
        </div>
      )}
      <form method="post" action={props.action} class="card">
        <input type="hidden" name="idempotency_key" value={props.idempotencyKey} />
        {props.fields
          ? props.fields.map((f) => {
            const id = `p-${f.name}`;
            const value = shown(props.values[f.name], f.kind);
            const mine = errorOf(`parameters.${f.name}`);
            return (
              <div class="field">
                <label for={id}>
                  {f.name} <span class="muted">({f.kind}{f.required ? ", required" : ""})</span>
                </label>
                {f.options
                  ? (
                    <select id={id} name={`p.${f.name}`} required={f.required}>
                      {!f.required && <option value="">—</option>}
                      {f.options.map((o) => <option value={o} selected={o === value}>{o}</option>)}
                    </select>
                  )
                  : f.kind === "boolean"
                  ? (
                    <select id={id} name={`p.${f.name}`}>
                      <option value="">—</option>
                      <option value="true" selected={value === "true"}>true</option>
                      <option value="false" selected={value === "false"}>false</option>
                    </select>
                  )
                  : f.kind === "json"
                  ? (
                    <textarea id={id} name={`p.${f.name}`} rows={3} required={f.required}>
                      {value}
                    </textarea>
                  )
                  : (
                    <input
                      id={id}
                      name={`p.${f.name}`}
                      value={value}
                      required={f.required}
                      type={f.kind === "string" ? "text" : "number"}
                      step={f.kind === "integer" ? "1" : f.kind === "number" ? "any" : undefined}
                    />
                  )}
                {f.description && <div class="muted small">{f.description}</div>}
                {mine.map((e) => <div class="error">{e.path}: {e.message}</div>)}
              </div>
            );
          })
          : (
            <div class="field">
              <label for="p-json">parameters (JSON object)</label>
              <textarea id="p-json" name="parameters" rows={6}>
                {JSON.stringify(props.values, null, 2)}
              </textarea>
            </div>
          )}
        <button class="primary" type="submit">Start run</button>
      </form>
    </Page>
  );
}
