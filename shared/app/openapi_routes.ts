/**
 * `GET /openapi.json` (OpenAPI 3.1, generated from the zod schemas: see
 * shared/openapi/) and `GET /docs` (the same, rendered). Public, like
 * `/health`: the document holds no data, only the shape of the API.
 */
import { Hono } from "hono";
import type { AppEnv } from "./deps.ts";
import { openApiDocument } from "../openapi/document.ts";
import { docsPage } from "../openapi/docs_page.ts";

export function openApiRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  let page: string | undefined;
  app.get("/openapi.json", (c) => c.json(openApiDocument()));
  app.get("/docs", (c) => c.html(page ??= docsPage(openApiDocument())));
  return app;
}
