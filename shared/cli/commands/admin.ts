/** `keys ls|create|revoke`, `pools ls`, `pools create <name>`, `workers ls`. */
import type { Command } from "../command.ts";
import { EXIT, usageError } from "../io.ts";
import { renderFields, renderTable, shortTime } from "../table.ts";

/** `edgeflow keys create --name N --scope S…` */
export const keysCreateCommand: Command = {
  path: ["keys", "create"],
  summary: "create an API key (needs an admin key); the key is shown once",
  description: `Scopes: admin, register, deploy, trigger, worker, read. "read" allows
every GET (and GraphQL queries); "admin" allows everything.

Example:
  edgeflow keys create --name ci --scope register --scope deploy
  edgeflow keys create --name worker-1 --scope worker --expires-in 2592000 --json`,
  flags: {
    name: { kind: "string", arg: "NAME", help: "what the key is for (shown in listings)" },
    scope: { kind: "list", arg: "SCOPE", help: "a scope the key holds; commas allowed" },
    "expires-at": { kind: "string", arg: "ISO8601", help: "when the key stops working" },
    "expires-in": { kind: "string", arg: "SECONDS", help: "or: how long from now it works" },
  },
  async run(ctx) {
    const name = ctx.flags.string("name");
    const scopes = ctx.flags.list("scope").flatMap((s) => s.split(",")).map((s) => s.trim())
      .filter(Boolean);
    if (!name) throw usageError("--name is required", ctx.name);
    if (!scopes.length) throw usageError("at least one --scope is required", ctx.name);
    const expires = ctx.flags.string("expires-at");
    const expiresIn = ctx.flags.int("expires-in", ctx.name);
    const { body } = await ctx.api().call<Record<string, unknown>>("POST", "/deploy/keys", {
      name,
      scopes,
      ...(expires ? { expires_at: expires } : {}),
      ...(expiresIn !== undefined ? { expires_in: expiresIn } : {}),
    });
    if (ctx.json) ctx.printJson(body);
    else {
      ctx.print(renderFields([
        ["id", body.id],
        ["name", body.name],
        ["scopes", body.scopes],
        ["expires", body.expires_at ?? "never"],
        ["key", body.key],
      ]));
      ctx.note("store the key now: it is shown only once (the server keeps its hash)");
    }
    return EXIT.ok;
  },
};

interface KeyDoc {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked: boolean;
}

/** `edgeflow keys ls` */
export const keysListCommand: Command = {
  path: ["keys", "ls"],
  summary: "list API keys (needs an admin key); secrets are never shown",
  async run(ctx) {
    const { body } = await ctx.api().call<{ keys: KeyDoc[] }>("GET", "/deploy/keys");
    if (ctx.json) ctx.printJson(body);
    else if (!body.keys.length) ctx.print("no API keys (only EDGEFLOW_ADMIN_KEY)");
    else {
      ctx.print(renderTable([
        { header: "id", value: (k: KeyDoc) => k.id },
        { header: "name", value: (k) => k.name },
        { header: "prefix", value: (k) => `${k.prefix}…` },
        { header: "scopes", value: (k) => k.scopes },
        { header: "status", value: (k) => keyStatus(k) },
        { header: "created", value: (k) => shortTime(k.created_at) },
        { header: "expires", value: (k) => (k.expires_at ? shortTime(k.expires_at) : "never") },
        { header: "last used", value: (k) => (k.last_used_at ? shortTime(k.last_used_at) : "-") },
      ], body.keys));
    }
    return EXIT.ok;
  },
};

function keyStatus(k: KeyDoc): string {
  if (k.revoked) return "revoked";
  if (k.expires_at && Date.parse(k.expires_at) <= Date.now()) return "expired";
  return "active";
}

/** `edgeflow keys revoke <id>` */
export const keysRevokeCommand: Command = {
  path: ["keys", "revoke"],
  args: "<id>",
  arity: [1, 1],
  summary: "revoke an API key now (needs an admin key); its sessions and worker names end",
  async run(ctx) {
    const id = ctx.positionals[0];
    const { body } = await ctx.api().call<KeyDoc>(
      "DELETE",
      `/deploy/keys/${encodeURIComponent(id)}`,
    );
    if (ctx.json) ctx.printJson(body);
    else ctx.print(`revoked key ${body.name} (${body.id})`);
    return EXIT.ok;
  },
};

interface PoolDoc {
  name: string;
  type: string;
  concurrency_limit: number | null;
  paused: boolean;
  queues?: { name: string }[];
}

/** `edgeflow pools ls` */
export const poolsListCommand: Command = {
  path: ["pools", "ls"],
  summary: "list work pools and their queues",
  async run(ctx) {
    const { body } = await ctx.api().call<{ pools: PoolDoc[] }>("GET", "/deploy/pools");
    if (ctx.json) ctx.printJson(body);
    else {
      ctx.print(renderTable([
        { header: "name", value: (p: PoolDoc) => p.name },
        { header: "type", value: (p) => p.type },
        { header: "limit", value: (p) => p.concurrency_limit },
        { header: "paused", value: (p) => (p.paused ? "yes" : "no") },
        { header: "queues", value: (p) => (p.queues ?? []).map((q) => q.name) },
      ], body.pools));
    }
    return EXIT.ok;
  },
};

/** `edgeflow pools create <name>` */
export const poolsCreateCommand: Command = {
  path: ["pools", "create"],
  args: "<name>",
  arity: [1, 1],
  summary: "create or update a work pool",
  flags: {
    type: { kind: "string", arg: "pull|push", help: "pull: workers poll (default); push: HTTP" },
    target: { kind: "string", arg: "URL", help: "push pools: the URL tasks are delivered to" },
    "concurrency-limit": { kind: "string", arg: "N", help: "most runs at once in the pool" },
    paused: { kind: "boolean", help: "create it paused" },
  },
  async run(ctx) {
    const limit = ctx.flags.int("concurrency-limit", ctx.name);
    // `--url` is the global server flag, so a push pool's target comes from `--target`.
    const body = {
      name: ctx.positionals[0],
      type: ctx.flags.string("type") ?? "pull",
      paused: ctx.flags.bool("paused"),
      ...(limit !== undefined ? { concurrency_limit: limit } : {}),
      ...(ctx.flags.string("target") ? { url: ctx.flags.string("target") } : {}),
    };
    const { status, body: pool } = await ctx.api().call("POST", "/deploy/pools", body);
    if (ctx.json) ctx.printJson(pool);
    else ctx.print(`${status === 201 ? "created" : "updated"} pool ${body.name}`);
    return EXIT.ok;
  },
};

interface WorkerDoc {
  name: string;
  pool: string;
  handlers: string[] | null;
  capacity: number;
  status: string;
  last_heartbeat_at: string;
}

/** `edgeflow workers ls` */
export const workersListCommand: Command = {
  path: ["workers", "ls"],
  summary: "list workers with their last heartbeat",
  async run(ctx) {
    const { body } = await ctx.api().call<{ workers: WorkerDoc[] }>("GET", "/heartbeat/workers");
    if (ctx.json) ctx.printJson(body);
    else if (!body.workers.length) ctx.print("no workers have sent a heartbeat");
    else {
      ctx.print(renderTable([
        { header: "name", value: (w: WorkerDoc) => w.name },
        { header: "pool", value: (w) => w.pool },
        { header: "status", value: (w) => w.status },
        { header: "capacity", value: (w) => w.capacity },
        { header: "last heartbeat", value: (w) => shortTime(w.last_heartbeat_at) },
        { header: "handlers", value: (w) => w.handlers ?? "all" },
      ], body.workers));
    }
    return EXIT.ok;
  },
};
