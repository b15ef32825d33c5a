/**
 * The OpenAPI 3.1 document of every route (./routes.ts), generated from the
 * zod schemas with zod 4's `z.toJSONSchema` (JSON Schema 2020-12, the
 * dialect OpenAPI 3.1 uses): request bodies as the schemas accept them
 * (`io: "input"`: fields with defaults are optional), responses as the API
 * writes them. Every JSON operation lists the problem document for 4XX and
 * 503 (api.md: bad input is never a 500). Built once per process.
 */
import { z } from "zod";
import { type Body, ROUTES, type RouteSpec } from "./routes.ts";
import { Problem } from "./responses.ts";

type Json = Record<string, unknown>;

function schemaOf(type: z.ZodType, io: "input" | "output"): Json {
  const { $schema: _, ...schema } = z.toJSONSchema(type, { io, unrepresentable: "any" }) as Json;
  return schema;
}

/** `/trigger/runs/:id` → `/trigger/runs/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_]\w*)/g, "{$1}");
}

const PROBLEM_REF = { $ref: "#/components/schemas/Problem" };

function response(body: Body, status: number): Json {
  const description = `${status}`;
  if (body === "html") {
    return { description, content: { "text/html": { schema: { type: "string" } } } };
  }
  if (body === "text") {
    return { description, content: { "text/plain": { schema: { type: "string" } } } };
  }
  if (body === "event-stream") {
    return { description, content: { "text/event-stream": { schema: { type: "string" } } } };
  }
  if (body === "empty") return { description };
  if (body === "redirect") {
    return { description, headers: { location: { schema: { type: "string" } } } };
  }
  return { description, content: { "application/json": { schema: schemaOf(body, "output") } } };
}

function operation(r: RouteSpec): Json {
  const parameters: Json[] = [...r.path.matchAll(/:([A-Za-z_]\w*)/g)].map((m) => ({
    name: m[1],
    in: "path",
    required: true,
    schema: { type: "string" },
  }));
  if (r.query) {
    const q = schemaOf(r.query, "input") as { properties?: Json; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      parameters.push({ name, in: "query", required: q.required?.includes(name) ?? false, schema });
    }
  }
  const responses: Json = {};
  for (const [status, body] of Object.entries(r.ok)) responses[status] = response(body, +status);
  const json = Object.values(r.ok).some((b) => typeof b !== "string") || r.body !== undefined;
  if (json || r.scope) {
    const problem = { content: { "application/problem+json": { schema: PROBLEM_REF } } };
    responses["4XX"] = { description: "a problem document naming what was wrong", ...problem };
    responses["503"] = { description: "the database does not answer", ...problem };
  }
  return {
    operationId: `${r.method}${
      openApiPath(r.path).replace(/[{}]/g, "").split("/").map((s) =>
        s.replace(/(^|[-_.])(\w)/g, (_m, _p, c: string) => c.toUpperCase())
      ).join("")
    }`,
    summary: r.summary,
    tags: [r.tag],
    ...(r.scope ? { security: [{ bearer: [] }], "x-edgeflow-scope": r.scope } : { security: [] }),
    ...(parameters.length ? { parameters } : {}),
    ...(r.body
      ? {
        requestBody: {
          required: true,
          content: { "application/json": { schema: schemaOf(r.body, "input") } },
        },
      }
      : {}),
    responses,
  };
}

/** Build the document (`serverUrl`: where this deployment is reached, if known). */
export function buildOpenApi(routes: RouteSpec[] = ROUTES, serverUrl?: string): Json {
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const p = (paths[openApiPath(r.path)] ??= {});
    p[r.method] = operation(r);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "edgeflow",
      version: "1",
      description: "Workflow orchestration control plane: register, deploy, trigger, heartbeat. " +
        "Errors are RFC 9457 problem documents; timestamps ISO 8601 UTC; ids UUIDs.",
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    paths,
    components: {
      schemas: { Problem: schemaOf(Problem, "output") },
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "an edgeflow API key" },
      },
    },
  };
}

let cached: Json | undefined;
/** The document for the built-in routes, built on first use. */
export function openApiDocument(): Json {
  return (cached ??= buildOpenApi());
}
