/** API keys in Postgres: looked up by hash, created with a hash only. */
import type { Sql } from "../db/sql.ts";
import type { KeyRecord, KeyStore } from "../http/auth.ts";
import { generateKey } from "../http/api_keys.ts";

/** The `KeyStore` the auth middleware uses. */
export function sqlKeyStore(sql: Sql): KeyStore {
  return {
    async findByHash(hash) {
      const [row] = await sql<KeyRecord>`
        select id, name, scopes, revoked, expires_at from edgeflow.api_keys where hash = ${hash}`;
      return row ?? null;
    },
  };
}

/** Create a key; the plain key is returned here once and never stored. */
export async function createKey(
  sql: Sql,
  input: { name: string; scopes: string[]; expires_at: string | null },
): Promise<{ id: string; key: string; name: string; scopes: string[]; prefix: string }> {
  const { key, hash, prefix } = await generateKey();
  const [row] = await sql<{ id: string }>`
    insert into edgeflow.api_keys (name, hash, prefix, scopes, expires_at)
    values (${input.name}, ${hash}, ${prefix},
            array(select jsonb_array_elements_text(${JSON.stringify(input.scopes)}::text::jsonb)),
            ${input.expires_at}::timestamptz)
    returning id`;
  return { id: row.id, key, name: input.name, scopes: input.scopes, prefix };
}
