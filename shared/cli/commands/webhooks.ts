/**
 * `webhooks create|ls|show|deliveries|redeliver`: inbound webhooks that start
 * runs of a deployment when GitHub, Stripe, Slack, a Standard Webhooks sender
 * or any HMAC/token sender calls `/trigger/hooks/<name>`.
 */
import type { Command } from "../command.ts";
import { seg } from "../command.ts";
import { EXIT, usageError } from "../io.ts";
import { renderFields, renderTable, shortTime } from "../table.ts";

interface HookDoc {
  name: string;
  url: string;
  deployment: string;
  provider: string;
  secrets: number;
  filter: unknown;
  parameters: unknown;
  active: boolean;
  rejected: number;
  updated_at: string;
}

interface DeliveryDoc {
  id: string;
  delivery_id: string;
  received_at: string;
  event: string | null;
  outcome: string;
  run_id: string | null;
  error: { code?: string; message?: string; ignored?: string } | null;
}

/** `KEY=VALUE` pairs of a list flag; a value that parses as JSON is taken as JSON. */
function pairs(values: string[], flag: string, command: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const v of values) {
    const at = v.indexOf("=");
    if (at < 1) throw usageError(`--${flag} takes KEY=VALUE, got "${v}"`, command);
    const raw = v.slice(at + 1);
    let value: unknown = raw;
    if (flag === "match") {
      try {
        value = JSON.parse(raw);
      } catch { /* a plain string */ }
    }
    out[v.slice(0, at)] = value;
  }
  return out;
}

/** `edgeflow webhooks create <name> --deployment D --provider P --secret S …` */
export const webhooksCreateCommand: Command = {
  path: ["webhooks", "create"],
  args: "<name>",
  arity: [1, 1],
  summary: "create or update an inbound webhook (prints the URL to give the provider)",
  description: `Providers: github, stripe, standard, slack, hmac, token. Give --secret twice
while rotating (the current one and the next). Parameters are templates over the
delivery: {{ body.a.b }}, {{ headers.x-github-event }}, {{ query.x }}; a value that is
one expression keeps its JSON type.

Example:
  edgeflow webhooks create gh-push --deployment ci-build --provider github \\
    --secret "$GITHUB_WEBHOOK_SECRET" --event push --match /ref=refs/heads/main \\
    --param 'repo={{ body.repository.full_name }}' --param 'sha={{ body.after }}'`,
  flags: {
    deployment: { kind: "string", arg: "NAME", help: "the deployment a delivery starts" },
    provider: { kind: "string", arg: "P", help: "github|stripe|standard|slack|hmac|token" },
    secret: { kind: "list", arg: "SECRET", help: "a current secret (twice while rotating)" },
    param: { kind: "list", arg: "KEY=TEMPLATE", help: "a run parameter from the delivery" },
    event: { kind: "list", arg: "EVENT", help: "only these events start runs (x.* allowed)" },
    match: { kind: "list", arg: "/POINTER=VALUE", help: "only bodies with this value there" },
    "signature-header": { kind: "string", arg: "H", help: "hmac: header of the signature" },
    encoding: { kind: "string", arg: "hex|base64", help: "hmac: how the MAC is written" },
    prefix: { kind: "string", arg: "TEXT", help: "hmac: text before the MAC (sha256=)" },
    "token-header": { kind: "string", arg: "H", help: "token: header of the shared secret" },
    "delivery-header": { kind: "string", arg: "H", help: "hmac/token: header of the delivery id" },
    inactive: { kind: "boolean", help: "create it switched off (deliveries get 404)" },
  },
  async run(ctx) {
    const [name] = ctx.positionals;
    const events = ctx.flags.list("event");
    const match = pairs(ctx.flags.list("match"), "match", ctx.name);
    const optional = (flag: string, key: string) =>
      ctx.flags.string(flag) !== undefined ? { [key]: ctx.flags.string(flag) } : {};
    const { status, body } = await ctx.api().call<HookDoc>("POST", "/deploy/webhooks", {
      name,
      deployment: ctx.flags.string("deployment"),
      provider: ctx.flags.string("provider"),
      secrets: ctx.flags.list("secret"),
      parameters: pairs(ctx.flags.list("param"), "param", ctx.name),
      filter: {
        ...(events.length ? { events } : {}),
        ...(Object.keys(match).length ? { match } : {}),
      },
      active: !ctx.flags.bool("inactive"),
      ...optional("signature-header", "signature_header"),
      ...optional("encoding", "encoding"),
      ...optional("prefix", "prefix"),
      ...optional("token-header", "token_header"),
      ...optional("delivery-header", "delivery_header"),
    });
    if (ctx.json) ctx.printJson(body);
    else {
      ctx.print(`webhook ${body.name} ${status === 201 ? "created" : "updated"}: POST ${body.url}`);
      ctx.note("give the provider your server's base URL followed by that path");
    }
    return EXIT.ok;
  },
};

/** `edgeflow webhooks ls` */
export const webhooksListCommand: Command = {
  path: ["webhooks", "ls"],
  summary: "list inbound webhooks",
  async run(ctx) {
    const { body } = await ctx.api().call<{ webhooks: HookDoc[] }>("GET", "/deploy/webhooks");
    if (ctx.json) ctx.printJson(body);
    else {
      ctx.print(renderTable<HookDoc>([
        { header: "name", value: (h) => h.name },
        { header: "provider", value: (h) => h.provider },
        { header: "deployment", value: (h) => h.deployment },
        { header: "active", value: (h) => (h.active ? "yes" : "no") },
        { header: "refused", value: (h) => h.rejected },
        { header: "url", value: (h) => h.url },
      ], body.webhooks));
    }
    return EXIT.ok;
  },
};

/** `edgeflow webhooks show <name>` */
export const webhooksShowCommand: Command = {
  path: ["webhooks", "show"],
  args: "<name>",
  arity: [1, 1],
  summary: "show a webhook (never its secrets) and its latest deliveries",
  async run(ctx) {
    const name = seg(ctx.positionals[0]);
    const { body } = await ctx.api().call<HookDoc>("GET", `/deploy/webhooks/${name}`);
    const { body: log } = await ctx.api().call<{ deliveries: DeliveryDoc[] }>(
      "GET",
      `/deploy/webhooks/${name}/deliveries?limit=5`,
    );
    if (ctx.json) ctx.printJson({ ...body, deliveries: log.deliveries });
    else {
      ctx.print(renderFields([
        ["name", body.name],
        ["url", body.url],
        ["provider", body.provider],
        ["deployment", body.deployment],
        ["active", body.active ? "yes" : "no"],
        ["secrets", `${body.secrets} (not shown)`],
        ["filter", body.filter],
        ["parameters", body.parameters],
        ["refused", body.rejected],
      ]));
      if (log.deliveries.length) ctx.print(deliveryTable(log.deliveries));
    }
    return EXIT.ok;
  },
};

function deliveryTable(rows: DeliveryDoc[]): string {
  return renderTable<DeliveryDoc>([
    { header: "id", value: (d) => d.id },
    { header: "received", value: (d) => shortTime(d.received_at) },
    { header: "event", value: (d) => d.event },
    { header: "outcome", value: (d) => d.outcome },
    { header: "run", value: (d) => d.run_id },
    { header: "why", value: (d) => d.error?.ignored ?? d.error?.message ?? d.error?.code },
  ], rows);
}

/** `edgeflow webhooks deliveries <name> [--limit N]` */
export const webhooksDeliveriesCommand: Command = {
  path: ["webhooks", "deliveries"],
  args: "<name>",
  arity: [1, 1],
  summary: "the delivery log of a webhook, newest first",
  flags: { limit: { kind: "string", arg: "N", help: "how many (default 50, at most 200)" } },
  async run(ctx) {
    const limit = ctx.flags.int("limit", ctx.name) ?? 50;
    const { body } = await ctx.api().call<{ deliveries: DeliveryDoc[] }>(
      "GET",
      `/deploy/webhooks/${seg(ctx.positionals[0])}/deliveries?limit=${limit}`,
    );
    if (ctx.json) ctx.printJson(body);
    else ctx.print(deliveryTable(body.deliveries));
    return EXIT.ok;
  },
};

/** `edgeflow webhooks redeliver <name> <delivery-id>` */
export const webhooksRedeliverCommand: Command = {
  path: ["webhooks", "redeliver"],
  args: "<name> <delivery-id>",
  arity: [2, 2],
  summary: "process a stored delivery again (after fixing the mapping, say)",
  async run(ctx) {
    const [name, id] = ctx.positionals;
    const { status, body } = await ctx.api().call<Record<string, unknown>>(
      "POST",
      `/deploy/webhooks/${seg(name)}/deliveries/${seg(id)}/redeliver`,
    );
    if (ctx.json) ctx.printJson(body);
    else if (body.ignored) ctx.print(`ignored: ${body.ignored}`);
    else ctx.print(`${status === 202 ? "started" : "already started"} run ${body.run_id}`);
    return EXIT.ok;
  },
};
