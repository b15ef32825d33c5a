-- Use the real pgmq extension wherever the database offers it (Supabase does).
-- When it is not available, sql/pgmq/ is applied instead: our SQL
-- implementation of the functions the engine calls, under the same names.

do $$
begin
  if not exists (select 1 from pg_catalog.pg_namespace where nspname = 'pgmq')
     and exists (select 1 from pg_catalog.pg_available_extensions where name = 'pgmq') then
    create extension if not exists pgmq;
  end if;
end
$$;
