/**
 * `Sql` over PGlite, the embedded default (dev server and tests).
 *
 * PGlite is one connection shared by every request. Single statements are
 * atomic on their own; multi-statement transactions go through PGlite's
 * `transaction()`, which holds the connection so that two requests never
 * interleave inside one.
 */
import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { Sql } from "./sql.ts";

type Queryable = PGlite | Transaction;

/** Open (or create) an embedded database; `dataDir` undefined = in memory. */
export async function pgliteSql(dataDir?: string): Promise<Sql> {
  return fromPglite(await PGlite.create(dataDir ? { dataDir } : {}));
}

/** Wrap an open PGlite instance (for example a `clone()` of a migrated one). */
export async function fromPglite(db: PGlite): Promise<Sql> {
  await db.exec("set timezone = 'UTC'");
  return wrap(db, false, () => db.close());
}

const texts = new WeakMap<TemplateStringsArray, string>();

/** `$1…$n` text for a template, built once per call site. */
function textOf(strings: TemplateStringsArray): string {
  let text = texts.get(strings);
  if (text === undefined) {
    text = strings.reduce((acc, part, i) => `${acc}$${i}${part}`);
    texts.set(strings, text);
  }
  return text;
}

function wrap(db: Queryable, inTransaction: boolean, end: () => Promise<void>): Sql {
  const sql = (async <T>(strings: TemplateStringsArray, ...values: unknown[]) => {
    const result = await db.query<T>(textOf(strings), values);
    return result.rows;
  }) as Sql;
  Object.assign(sql, {
    driver: "pglite" as const,
    begin: <T>(fn: (tx: Sql) => Promise<T>): Promise<T> => {
      if (inTransaction) return fn(sql);
      return (db as PGlite).transaction((tx) => fn(wrap(tx, true, end)));
    },
    exec: async (script: string) => {
      await db.exec(script);
    },
    end,
  });
  return sql;
}
