-- racing_ticks_drop_partitions: written by `deno task sql:migration` from what changed in sql/.

-- from sql/functions/edgeflow.drop_partitions.sql
-- Retention of a table partitioned by day of run_created_at (see
-- edgeflow.ensure_partitions): drops, oldest first and at most p_limit, the
-- day partitions that have ended and of whose day no run is left
-- (edgeflow.prune_runs deleted them, or they never existed). A day with one
-- run still kept (unfinished, a longer retention, a parent of a running
-- child) keeps its whole partition until that run goes. The check is one
-- probe of runs_newest per partition. Returns the number dropped.
CREATE OR REPLACE FUNCTION edgeflow.drop_partitions(p_table text, p_limit integer DEFAULT 7)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_part record;
  v_dropped integer := 0;
  v_lock text := pg_catalog.current_setting('lock_timeout');
begin
  for v_part in
    select c.relname as name,
           pg_catalog.to_date(pg_catalog.right(c.relname, 8), 'YYYYMMDD')::timestamp
             at time zone 'UTC' as day
      from pg_catalog.pg_inherits i
      join pg_catalog.pg_class c on c.oid = i.inhrelid
     where i.inhparent = pg_catalog.to_regclass('edgeflow.' || p_table)
       and c.relname ~ ('^' || p_table || '_p[0-9]{8}$')
     order by c.relname
  loop
    exit when v_dropped >= p_limit or v_part.day + interval '1 day' > edgeflow.now();
    continue when exists (select 1 from edgeflow.runs r
                           where r.created_at >= v_part.day
                             and r.created_at < v_part.day + interval '1 day');
    begin
      perform pg_catalog.set_config('lock_timeout', '100ms', true);
      execute pg_catalog.format('drop table if exists edgeflow.%I', v_part.name);
      v_dropped := v_dropped + 1;
    exception when lock_not_available or undefined_table then
      -- busy, or a racing tick dropped it first (two pg_cron jobs did): the next
      -- pass looks again
      null;
    end;
    perform pg_catalog.set_config('lock_timeout', v_lock, true);
  end loop;
  return v_dropped;
end
$function$;
