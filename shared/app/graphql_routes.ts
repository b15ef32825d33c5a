/**
 * `POST /register/graphql` (and `GET ?query=`): a read-only GraphQL view of
 * flows, deployments and runs — what trex users query after deploying
 * (`registeredFlows { name entrypoint image tags }`, seed 000).
 *
 * graphql-js with `buildSchema` and root resolvers: it needs no `eval`
 * (unlike some schema builders), so it runs on Workers too. Resolvers read
 * through the same SQL read models as the REST routes (`flow_version_json`,
 * `deployment_json`, `run_json`), so both views always agree. Fields are
 * camelCase, as GraphQL clients expect; values are the REST documents'.
 */
import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import { buildSchema, execute as run, GraphQLError } from "graphql";
import { prepareQuery } from "./graphql_limits.ts";
import { z } from "zod";
import type { AppDeps, AppEnv } from "./deps.ts";
import type { Auth } from "../http/auth.ts";
import { parseJsonText, readJsonAs } from "../http/body.ts";
import { ApiError } from "../http/problem.ts";
import { zodIssuesToErrors } from "../http/error_path.ts";
import type { Sql } from "../db/sql.ts";

const SDL = `
  "Any JSON value."
  scalar JSON

  type Query {
    "The latest version of each registered flow (or of the one named)."
    registeredFlows(name: String): [RegisteredFlow!]!
    "One flow version; the latest unless \`version\` is given."
    flow(name: String!, version: Int): RegisteredFlow
    deployments(flow: String): [Deployment!]!
    deployment(name: String!): Deployment
    run(id: ID!): Run
    "Runs, newest first (at most 500)."
    runs(status: String, flow: String, deployment: String, limit: Int = 20): [Run!]!
  }

  type RegisteredFlow {
    id: ID!, name: String!, version: Int!, hash: String!, archived: Boolean!
    description: String, entrypoint: String, image: String, tags: [String!]!
    parameters: JSON, settings: JSON, createdAt: String
    steps: [FlowStep!]!
  }

  type FlowStep {
    slug: String!, handler: String!, dependsOn: [String!]!, map: String
    maxAttempts: Int, baseDelay: Float, timeout: Float, startDelay: Float
    args: JSON, deployment: String
  }

  type Deployment {
    id: ID!, name: String!, flow: String!
    "A version number, or \\"latest\\"."
    version: String!
    pool: String!, queue: String!, description: String, paused: Boolean!
    tags: [String!]!, parameters: JSON
    concurrencyLimit: Int, collisionStrategy: String, jobVariables: JSON, schedules: JSON
    createdAt: String, updatedAt: String
  }

  type Run {
    id: ID!, status: String!, flow: String!, version: Int!, deployment: String
    parameters: JSON, output: JSON, error: JSON
    createdAt: String, startedAt: String, endedAt: String
    steps: [RunStep!]!
  }

  type RunStep {
    slug: String!, status: String!, attempts: Int!, tasks: Int!
    output: JSON, error: JSON, startedAt: String, endedAt: String
  }
`;

// Built on first use: workerd forbids the work graphql-js does while parsing
// (diagnostics channels) in the global scope of a Worker.
let schema: ReturnType<typeof buildSchema> | undefined;
const getSchema = () => (schema ??= buildSchema(SDL));

type Doc = Record<string, unknown>;

/** snake_case keys → camelCase, one level (nested JSON values stay as stored). */
function camel(doc: Doc): Doc {
  return Object.fromEntries(
    Object.entries(doc).map(([k, v]) => [k.replace(/_([a-z])/g, (_, ch) => ch.toUpperCase()), v]),
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const asFlow = (d: Doc) => ({
  ...camel(d),
  tags: d.tags ?? [],
  steps: ((d.steps ?? []) as Doc[]).map(camel),
});
const asDeployment = (d: Doc) => ({ ...camel(d), version: String(d.version) });
const asRun = (d: Doc) => ({ ...camel(d), steps: ((d.steps ?? []) as Doc[]).map(camel) });

/** Root resolvers over one request's database client. */
function rootValue(sql: Sql) {
  const runDoc = async (id: string) => {
    if (!UUID.test(id)) return null; // never a run: answer null, as for an unknown id
    const [row] = await sql<{ r: Doc | null }>`select edgeflow.run_json(${id}::uuid) as r`;
    return row?.r ?? null;
  };
  return {
    registeredFlows: async ({ name }: { name?: string | null }) => {
      const rows = await sql<{ f: Doc }>`
        select edgeflow.flow_version_json(v.id) as f
          from (select distinct on (flow_name) id, flow_name from edgeflow.flow_versions
                 where ${name ?? null}::text is null or flow_name = ${name ?? null}
                 order by flow_name, version desc) v
         order by v.flow_name`;
      return rows.map((r) => asFlow(r.f));
    },
    flow: async ({ name, version }: { name: string; version?: number | null }) => {
      const pin = version ?? null;
      const [row] = await sql<{ f: Doc }>`
        select edgeflow.flow_version_json(id) as f from edgeflow.flow_versions
         where flow_name = ${name} and (${pin}::int is null or version = ${pin})
         order by version desc limit 1`;
      return row ? asFlow(row.f) : null;
    },
    deployments: async ({ flow }: { flow?: string | null }) => {
      const rows = await sql<{ d: Doc }>`
        select edgeflow.deployment_json(id) as d from edgeflow.deployments
         where ${flow ?? null}::text is null or flow_name = ${flow ?? null} order by name`;
      return rows.map((r) => asDeployment(r.d));
    },
    deployment: async ({ name }: { name: string }) => {
      const [row] = await sql<{ d: Doc }>`
        select edgeflow.deployment_json(id) as d from edgeflow.deployments where name = ${name}`;
      return row ? asDeployment(row.d) : null;
    },
    run: async ({ id }: { id: string }) => {
      const doc = await runDoc(id);
      return doc ? asRun(doc) : null;
    },
    runs: async (args: { status?: string; flow?: string; deployment?: string; limit: number }) => {
      if (!(args.limit >= 1 && args.limit <= 500)) throw new GraphQLError("limit must be 1-500");
      const { status = null, flow = null, deployment = null, limit } = args;
      const [row] = await sql<{ runs: Doc[] }>`
        select edgeflow.list_runs(${status}, ${flow}, ${deployment}, ${limit}::int, null, null)
               as runs`;
      // The list has no steps; a query that asks for them reads each run (≤ 500).
      return row.runs.map(({ cursor_at: _, ...r }) => ({
        ...camel(r),
        steps: async () => ((await runDoc(String(r.id)))?.steps as Doc[] ?? []).map(camel),
      }));
    },
  };
}

export const GraphQLBody = z.object({
  query: z.string().min(1),
  variables: z.record(z.string(), z.unknown()).nullish(),
  operationName: z.string().nullish(),
});

/**
 * A query never writes, so a POSTed query is authorised like the GET it
 * could have been: keys with scope `read` may query, as on every GET. (The
 * schema has no mutations; adding one means dropping this.) The request is
 * only viewed as a GET by the scope check; the same request object flows on,
 * so per-request database clients (Workers) are still found and released.
 */
function asRead(check: MiddlewareHandler<AppEnv>): MiddlewareHandler<AppEnv> {
  return (c, next) => {
    const bind = (target: object, key: PropertyKey) => {
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    };
    const req = new Proxy(c.req, { get: (t, k) => (k === "method" ? "GET" : bind(t, k)) });
    const view = new Proxy(c, { get: (t, k) => (k === "req" ? req : bind(t, k)) });
    return check(view as Context<AppEnv>, next);
  };
}

/** The GraphQL endpoint of the `register` function. */
export function graphqlRoutes(deps: AppDeps, auth: Auth): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const scope = asRead(auth.requireScope("register"));

  const execute = async (c: Context<AppEnv>, body: z.infer<typeof GraphQLBody>) => {
    const prepared = prepareQuery(getSchema(), body.query, body.variables, body.operationName);
    // Syntax, validation and limit errors: nothing ran, the request was bad (GraphQL over HTTP).
    if (!prepared.ok) return c.json({ errors: prepared.errors }, 400);
    const result = await run({
      schema: getSchema(),
      document: prepared.document,
      rootValue: rootValue(deps.sql(c)),
      variableValues: body.variables ?? undefined,
      operationName: body.operationName ?? undefined,
    });
    // Resolver failures that are not ours (the database, bugs) are logged and
    // shown as "internal error": their messages may carry SQL or internals.
    const errors = result.errors?.map((e) => {
      if (!e.originalError || e.originalError instanceof GraphQLError) return e;
      deps.log("error", "graphql resolver failed", {
        path: e.path,
        error: String(e.originalError),
      });
      return new GraphQLError("internal error", { path: e.path, nodes: e.nodes });
    });
    return c.json({ ...result, ...(errors ? { errors } : {}) });
  };

  app.post("/register/graphql", scope, async (c) => execute(c, await readJsonAs(c, GraphQLBody)));

  app.get("/register/graphql", scope, (c) => {
    const text = c.req.query("variables");
    let variables: unknown = null;
    try {
      variables = text ? parseJsonText(text, "variables") : null;
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== "invalid_json") throw err;
      variables = text; // not JSON: the schema below reports it at `variables`
    }
    const parsed = GraphQLBody.safeParse({
      query: c.req.query("query"),
      variables,
      operationName: c.req.query("operationName"),
    });
    if (!parsed.success) {
      throw ApiError.of(
        "validation_failed",
        "the query string is invalid",
        zodIssuesToErrors(parsed.error.issues),
      );
    }
    return execute(c, parsed.data);
  });

  return app;
}
