import { PGlite } from "@electric-sql/pglite";
const depth = Deno.args[0];
const db = await PGlite.create();
console.log((await db.query("show max_stack_depth")).rows);
if (depth) { try { await db.exec(`set max_stack_depth = '${depth}'`); } catch (e) { console.log("set err", String(e)); } }
console.log((await db.query("show max_stack_depth")).rows);
await db.exec(`create table t(x int); insert into t values (1),(2);
create function f(n int) returns int language plpgsql as $$ begin return f(n+1); end $$;
create function g(n int) returns int language sql as $$ select g(n+1) $$;
create function h(n int, j jsonb) returns jsonb language plpgsql as $$ begin return h(n+1, jsonb_build_object('a', j)); end $$;`);
for (const q of ["select f(1)", "select g(1)", "select h(1, '{}')", "select count(*) from t"]) {
  try { const r = await db.query(q); console.log(q, r.rows, r.fields.length); } catch (e) { console.log("ERR", q, (e as Error).message, (e as any).code); }
  try { console.log("after", (await db.query("select count(*)::int n from t")).rows); } catch (e) { console.log("after ERR", String(e)); }
}
