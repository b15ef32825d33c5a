/** Webhooks in the database: save, read, list, delete, and the delivery log. */
import type { Sql } from "../db/sql.ts";
import type { Provider, ProviderOptions } from "./providers.ts";
import type { WebhookFilter } from "./filter.ts";
import { providerOptions, type WebhookEmitInput, type WebhookInput } from "./schema.ts";
import type { DeploymentTarget } from "../engine/deployment_target.ts";

/** A webhook as the API shows it: never its secrets, only how many there are. */
export interface WebhookDocument {
  name: string;
  url: string;
  deployment: string;
  provider: Provider;
  secrets: number;
  filter: WebhookFilter;
  parameters: Record<string, unknown>;
  active: boolean;
  rejected: number;
  /** The event each delivery records, or null. */
  emit: WebhookEmitInput | null;
  /** False: the hook only emits its event. */
  start_run: boolean;
  created_at: string;
  updated_at: string;
  [setting: string]: unknown;
}

const DOCUMENT = (sql: Sql, where: { name?: string }) =>
  sql<{ d: WebhookDocument }>`
    select jsonb_build_object(
             'name', w.name, 'url', '/trigger/hooks/' || w.name, 'deployment', d.name,
             'provider', w.provider, 'secrets', cardinality(w.secrets), 'filter', w.filter,
             'parameters', w.parameters, 'active', w.active, 'rejected', w.rejected,
             'emit', w.emit, 'start_run', w.start_run,
             'created_at', edgeflow.iso(w.created_at), 'updated_at', edgeflow.iso(w.updated_at))
             || w.options as d
      from edgeflow.webhooks w join edgeflow.deployments d on d.id = w.deployment_id
     where ${where.name ?? null}::text is null or w.name = ${where.name ?? null}
     order by w.name`;

/** Create or update by name; null when the deployment does not exist. */
export async function saveWebhook(
  sql: Sql,
  hook: WebhookInput,
): Promise<{ created: boolean; webhook: WebhookDocument } | null> {
  const [row] = await sql<{ created: boolean }>`
    insert into edgeflow.webhooks as w
           (name, deployment_id, provider, secrets, options, filter, parameters, active,
            emit, start_run, created_at, updated_at)
    select ${hook.name}, d.id, ${hook.provider},
           array(select jsonb_array_elements_text(${JSON.stringify(hook.secrets)}::text::jsonb)),
           ${JSON.stringify(providerOptions(hook))}::text::jsonb,
           ${JSON.stringify(hook.filter)}::text::jsonb,
           ${JSON.stringify(hook.parameters)}::text::jsonb, ${hook.active},
           ${hook.emit ? JSON.stringify(hook.emit) : null}::text::jsonb, ${hook.start_run},
           edgeflow.now(), edgeflow.now()
      from edgeflow.deployments d where d.name = ${hook.deployment}
    on conflict (name) do update
       set deployment_id = excluded.deployment_id, provider = excluded.provider,
           secrets = excluded.secrets, options = excluded.options, filter = excluded.filter,
           parameters = excluded.parameters, active = excluded.active,
           emit = excluded.emit, start_run = excluded.start_run, updated_at = excluded.updated_at
    returning (w.xmax = 0) as created`;
  if (!row) return null;
  return { created: row.created, webhook: (await getWebhook(sql, hook.name))! };
}

export async function getWebhook(sql: Sql, name: string): Promise<WebhookDocument | null> {
  const [row] = await DOCUMENT(sql, { name });
  return row?.d ?? null;
}

export async function listWebhooks(sql: Sql): Promise<WebhookDocument[]> {
  return (await DOCUMENT(sql, {})).map((r) => r.d);
}

export async function deleteWebhook(sql: Sql, name: string): Promise<boolean> {
  const rows = await sql`delete from edgeflow.webhooks where name = ${name} returning 1`;
  return rows.length > 0;
}

/** What the receiving path needs of a hook (secrets included) and of its deployment. */
export interface HookTarget {
  id: string;
  name: string;
  provider: Provider;
  secrets: string[];
  options: ProviderOptions;
  filter: WebhookFilter;
  parameters: Record<string, unknown>;
  active: boolean;
  emit: WebhookEmitInput | null;
  start_run: boolean;
  deployment: Omit<DeploymentTarget, "archived">;
}

/** The hook named `name` with its deployment's trigger target, in one round trip. */
export async function hookTarget(sql: Sql, name: string): Promise<HookTarget | null> {
  const [row] = await sql<{ h: HookTarget | null }>`
    select jsonb_build_object(
             'id', w.id, 'name', w.name, 'provider', w.provider, 'secrets', to_jsonb(w.secrets),
             'options', w.options, 'filter', w.filter, 'parameters', w.parameters,
             'active', w.active, 'emit', w.emit, 'start_run', w.start_run,
             'deployment', edgeflow.deployment_target(d.name)) as h
      from edgeflow.webhooks w join edgeflow.deployments d on d.id = w.deployment_id
     where w.name = ${name}`;
  return row?.h ?? null;
}

/** A refused request leaves only this trace: the hook's counter. */
export async function countRejected(sql: Sql, hookId: string): Promise<void> {
  await sql`update edgeflow.webhooks set rejected = rejected + 1 where id = ${hookId}::uuid`;
}

/** One entry of the delivery log. */
export interface DeliveryDocument {
  id: string;
  delivery_id: string;
  received_at: string;
  event: string | null;
  outcome: "started" | "ignored" | "failed" | "emitted";
  run_id: string | null;
  /** The event this delivery emitted, if its hook emits one. */
  event_id: string | null;
  error: unknown;
  redelivery_of: string | null;
  payload_kept: boolean;
}

/** The newest `limit` deliveries of a hook. */
export async function listDeliveries(
  sql: Sql,
  hookId: string,
  limit: number,
): Promise<DeliveryDocument[]> {
  const rows = await sql<{ d: DeliveryDocument }>`
    select jsonb_build_object(
             'id', id, 'delivery_id', delivery_id, 'received_at', edgeflow.iso(received_at),
             'event', event, 'outcome', outcome, 'run_id', run_id, 'event_id', event_id, 'error', error,
             'redelivery_of', redelivery_of, 'payload_kept', body is not null) as d
      from edgeflow.webhook_deliveries where webhook_id = ${hookId}::uuid
     order by received_at desc, id desc limit ${limit}::int`;
  return rows.map((r) => r.d);
}

/** A stored delivery with its payload (for redelivery), or null. */
export async function storedDelivery(
  sql: Sql,
  hookId: string,
  id: string,
): Promise<
  {
    id: string;
    headers: Record<string, string> | null;
    body: string | null;
    query: Record<string, string> | null;
  } | null
> {
  const [row] = await sql<{
    id: string;
    headers: Record<string, string> | null;
    body: string | null;
    query: Record<string, string> | null;
  }>`
    select id, headers, body, query from edgeflow.webhook_deliveries
     where webhook_id = ${hookId}::uuid and id = ${id}::uuid`;
  return row ?? null;
}
