/**
 * API keys in Postgres: looked up by hash, created with a hash only, listed
 * without secrets, revoked at once. Nothing here caches a key: every request
 * reads its row, so a revocation is seen by the very next request on every
 * instance.
 */
import type { Sql } from "../db/sql.ts";
import type { KeyRecord, KeyStore } from "../http/auth.ts";
import { generateKey } from "../http/api_keys.ts";

/** `last_used_at` is refreshed when older than this: one write per key per 5 minutes, not per request. */
const TOUCH_AFTER_MS = 5 * 60_000;

/** The `KeyStore` the auth middleware uses; `now` is the clock for `last_used_at`. */
export function sqlKeyStore(sql: Sql, now: () => number = Date.now): KeyStore {
  return {
    async findByHash(hash) {
      const [row] = await sql<KeyRecord & { last_used_at: string | Date | null }>`
        select id, name, scopes, revoked, expires_at, last_used_at
          from edgeflow.api_keys where hash = ${hash}`;
      if (!row) return null;
      const used = row.last_used_at == null ? -Infinity : new Date(row.last_used_at).getTime();
      if (!row.revoked && now() - used >= TOUCH_AFTER_MS) {
        await sql`
          update edgeflow.api_keys set last_used_at = ${new Date(now()).toISOString()}::timestamptz
           where id = ${row.id}::uuid`;
      }
      return row;
    },
  };
}

/** A key as `GET /deploy/keys` shows it: never the secret, never its hash. */
export interface KeyDoc {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  revoked: boolean;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** Create a key; the plain key is returned here once and never stored. */
export async function createKey(
  sql: Sql,
  input: { name: string; scopes: string[]; expires_at: string | null },
): Promise<KeyDoc & { key: string }> {
  const { key, hash, prefix } = await generateKey();
  const [row] = await sql<{ k: KeyDoc }>`
    insert into edgeflow.api_keys as k (name, hash, prefix, scopes, expires_at)
    values (${input.name}, ${hash}, ${prefix},
            array(select jsonb_array_elements_text(${JSON.stringify(input.scopes)}::text::jsonb)),
            ${input.expires_at}::timestamptz)
    returning edgeflow.api_key_json(k) as k`;
  return { ...row.k, key };
}

/** Every key, newest first (revoked ones too, with `revoked_at`). */
export async function listKeys(sql: Sql): Promise<KeyDoc[]> {
  const rows = await sql<{ k: KeyDoc }>`
    select edgeflow.api_key_json(k) as k from edgeflow.api_keys as k
     order by k.created_at desc, k.id limit 1000`;
  return rows.map((r) => r.k);
}

/**
 * Revoke a key now: it stops authenticating, its dashboard sessions end and
 * the worker names it held are freed. Null when no such key; a key already
 * revoked keeps its first `revoked_at`.
 */
export async function revokeKey(sql: Sql, id: string, at: Date): Promise<KeyDoc | null> {
  const [row] = await sql<{ k: KeyDoc }>`
    with k as (
      update edgeflow.api_keys as t
         set revoked = true, revoked_at = coalesce(t.revoked_at, ${at.toISOString()}::timestamptz)
       where t.id = ${id}::uuid
      returning t.id, edgeflow.api_key_json(t) as doc
    ), sessions as (
      delete from edgeflow.ui_sessions s using k where s.key_id = k.id
    ), names as (
      delete from edgeflow.worker_owners o using k where o.key_id = k.id
    )
    select doc as k from k`;
  return row?.k ?? null;
}
