/** Outbound notifications in the database: save, read, list, delete, and their deliveries. */
import type { Sql } from "../db/sql.ts";
import type { NotificationInput } from "../webhooks/schema.ts";

/** A notification as the API shows it (never its secret). */
export interface NotificationDocument {
  name: string;
  url: string;
  events: string[];
  flows: string[] | null;
  deployments: string[] | null;
  active: boolean;
  created_at: string;
  updated_at: string;
}

async function documents(sql: Sql, name: string | null): Promise<NotificationDocument[]> {
  const rows = await sql<{ d: NotificationDocument }>`
    select jsonb_build_object(
             'name', n.name, 'url', n.url, 'events', to_jsonb(n.events),
             'flows', to_jsonb(n.flows), 'deployments', to_jsonb(n.deployments),
             'active', n.active, 'created_at', edgeflow.iso(n.created_at),
             'updated_at', edgeflow.iso(n.updated_at)) as d
      from edgeflow.notifications n
     where ${name}::text is null or n.name = ${name}
     order by n.name`;
  return rows.map((r) => r.d);
}

export async function saveNotification(
  sql: Sql,
  n: NotificationInput,
): Promise<{ created: boolean; notification: NotificationDocument }> {
  const list = (v: string[] | null) => (v === null ? null : JSON.stringify(v));
  const [row] = await sql<{ created: boolean }>`
    insert into edgeflow.notifications as n
           (name, url, secret, events, flows, deployments, active, created_at, updated_at)
    values (${n.name}, ${n.url}, ${n.secret},
            array(select jsonb_array_elements_text(${JSON.stringify(n.events)}::text::jsonb)),
            case when ${list(n.flows)}::text is null then null else
              array(select jsonb_array_elements_text(${list(n.flows)}::text::jsonb)) end,
            case when ${list(n.deployments)}::text is null then null else
              array(select jsonb_array_elements_text(${list(n.deployments)}::text::jsonb)) end,
            ${n.active}, edgeflow.now(), edgeflow.now())
    on conflict (name) do update
       set url = excluded.url, secret = excluded.secret, events = excluded.events,
           flows = excluded.flows, deployments = excluded.deployments,
           active = excluded.active, updated_at = excluded.updated_at
    returning (n.xmax = 0) as created`;
  return { created: row.created, notification: (await documents(sql, n.name))[0] };
}

export async function getNotification(
  sql: Sql,
  name: string,
): Promise<NotificationDocument | null> {
  return (await documents(sql, name))[0] ?? null;
}

export function listNotifications(sql: Sql): Promise<NotificationDocument[]> {
  return documents(sql, null);
}

export async function deleteNotification(sql: Sql, name: string): Promise<boolean> {
  return (await sql`delete from edgeflow.notifications where name = ${name} returning 1`).length >
    0;
}

/** One outbound message and where its delivery stands. */
export interface NotificationDeliveryDocument {
  id: string;
  message_id: string;
  run_id: string;
  event: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  next_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

export async function listNotificationDeliveries(
  sql: Sql,
  name: string,
  limit: number,
): Promise<NotificationDeliveryDocument[] | null> {
  const [n] = await sql<{ id: string }>`select id from edgeflow.notifications where name = ${name}`;
  if (!n) return null;
  const rows = await sql<{ d: NotificationDeliveryDocument }>`
    select jsonb_build_object(
             'id', id, 'message_id', message_id, 'run_id', run_id, 'event', event,
             'status', status, 'attempts', attempts,
             'next_attempt_at', case when status = 'pending' then edgeflow.iso(next_attempt_at) end,
             'last_status', last_status, 'last_error', last_error,
             'created_at', edgeflow.iso(created_at), 'delivered_at', edgeflow.iso(delivered_at)) as d
      from edgeflow.notification_deliveries where notification_id = ${n.id}::uuid
     order by created_at desc, id desc limit ${limit}::int`;
  return rows.map((r) => r.d);
}
