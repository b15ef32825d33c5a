/**
 * `Sql` over PGlite, the embedded default (dev server and tests).
 *
 * PGlite is one connection shared by every request. Single statements are
 * atomic on their own; multi-statement transactions go through PGlite's
 * `transaction()`, which holds the connection so that two requests never
 * interleave inside one.
 *
 * An internal error can leave the embedded server broken for good: a
 * statement that overflows the WebAssembly stack (deep recursion in SQL)
 * returns no rows *and no error*, and from then on statements fail with
 * `ERRORDATA_STACK_SIZE exceeded` or, worse, silently return nothing. So
 * answers are checked: a SELECT always describes its columns, and one that
 * comes back without any means the instance is broken; after any error a
 * probe (`select 1`) must give exactly its row. A broken instance is never
 * queried again: every statement fails with `DatabaseUnavailableError`
 * (503, `/health` too) — never a wrong answer. An instance on disk is then
 * reopened from its data directory (the failed transaction never
 * committed); an in-memory one stays unavailable until the process restarts.
 */
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { DatabaseUnavailableError, type Sql } from "./sql.ts";

type Queryable = PGlite | Transaction;

/** The instance every wrapper of one client shares, and whether it can still be trusted. */
interface Embedded {
  db: PGlite;
  /** Why the instance is not to be queried (null: healthy). */
  broken: string | null;
  /** Reopen from disk (persistent instances only). */
  reopen?: () => Promise<PGlite>;
  recovering: Promise<void> | null;
}

/** Open (or create) an embedded database; `dataDir` undefined = in memory. */
export async function pgliteSql(dataDir?: string): Promise<Sql> {
  const open = async () => {
    const db = await PGlite.create(dataDir ? { dataDir } : {});
    await db.exec("set timezone = 'UTC'");
    return db;
  };
  const state: Embedded = { db: await open(), broken: null, recovering: null };
  if (dataDir) state.reopen = open;
  return wrap(state, null);
}

/** Wrap an open PGlite instance (for example a `clone()` of a migrated one). */
export async function fromPglite(db: PGlite): Promise<Sql> {
  await db.exec("set timezone = 'UTC'");
  return wrap({ db, broken: null, recovering: null }, null);
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

/** Statements whose answer always describes its columns, even with no rows. */
const RETURNS_COLUMNS = /^\s*(select|with|values)\b/i;

/** Does the instance still give the one right answer to the simplest question? */
async function probe(db: PGlite): Promise<boolean> {
  try {
    const result = await db.query<{ ok: number }>("select 1 as ok");
    return result.fields.length === 1 && result.rows.length === 1 && result.rows[0].ok === 1;
  } catch {
    return false;
  }
}

function unavailable(state: Embedded): DatabaseUnavailableError {
  return new DatabaseUnavailableError(
    state.reopen
      ? `the embedded database failed (${state.broken}) and is being reopened; retry shortly`
      : `the embedded database failed (${state.broken}); restart the process`,
  );
}

/** Never query this instance again; reopen it from disk where there is one. */
function markBroken(state: Embedded, why: string): DatabaseUnavailableError {
  if (!state.broken) {
    state.broken = why;
    if (state.reopen && !state.recovering) {
      const reopen = state.reopen;
      const old = state.db;
      state.recovering = (async () => {
        await old.close().catch(() => {});
        const db = await reopen();
        if (await probe(db)) {
          state.db = db;
          state.broken = null;
        } else {
          await db.close().catch(() => {});
        }
      })().catch(() => {}).finally(() => (state.recovering = null));
    }
  }
  return unavailable(state);
}

/** After an error: is the instance still sound? Throws 503 when it is not, else returns. */
async function verifyAfterError(state: Embedded): Promise<void> {
  if (state.broken) throw unavailable(state);
  if (!(await probe(state.db))) throw markBroken(state, "a statement broke the instance");
}

function wrap(state: Embedded, tx: Transaction | null): Sql {
  const target = (): Queryable => tx ?? state.db;
  const sql = (async <T>(strings: TemplateStringsArray, ...values: unknown[]) => {
    if (state.broken) throw unavailable(state);
    const text = textOf(strings);
    let result;
    try {
      result = await target().query<T>(text, values);
    } catch (err) {
      // Inside a transaction the probe waits for its end (`begin` runs it).
      if (!tx) await verifyAfterError(state);
      throw err;
    }
    if (result.fields.length === 0 && RETURNS_COLUMNS.test(text)) {
      throw markBroken(state, "a statement returned no columns");
    }
    return result.rows;
  }) as Sql;
  Object.assign(sql, {
    driver: "pglite" as const,
    begin: async <T>(fn: (tx: Sql) => Promise<T>): Promise<T> => {
      if (tx) return fn(sql);
      if (state.broken) throw unavailable(state);
      try {
        return await state.db.transaction((t) => fn(wrap(state, t)));
      } catch (err) {
        await verifyAfterError(state);
        throw err;
      }
    },
    exec: async (script: string) => {
      if (state.broken) throw unavailable(state);
      try {
        await target().exec(script);
      } catch (err) {
        if (!tx) await verifyAfterError(state);
        throw err;
      }
    },
    ping: async (timeoutMs: number) => {
      if (state.broken) return false;
      // One connection: a long transaction holds the probe up, so it is bounded too.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<boolean>((
        resolve,
      ) => (timer = setTimeout(resolve, timeoutMs, false)));
      try {
        return await Promise.race([probe(state.db), late]);
      } finally {
        clearTimeout(timer);
      }
    },
    end: async () => {
      await state.recovering;
      // A broken instance may fail to close as well; there is nothing left to save in it.
      await state.db.close().catch((err) => {
        if (!state.broken) throw err;
      });
    },
  });
  return sql;
}
