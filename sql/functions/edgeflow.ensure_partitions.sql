-- Day partitions of a table partitioned by range (run_created_at)
-- (edgeflow.events; the hook for any other run-keyed log): makes sure
-- `<table>_pYYYYMMDD` exists for today and the two days ahead, and for
-- every day the DEFAULT partition holds rows of (a tick was missed, or a test
-- moved the clock), moving those rows into their day. Returns the number of
-- partitions created. Creating a partition locks the parent briefly: a pass
-- that cannot have the lock within 100 ms leaves it to the next one.
CREATE OR REPLACE FUNCTION edgeflow.ensure_partitions(p_table text)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_day timestamptz;
  v_name text;
  v_rows jsonb;
  v_created integer := 0;
  v_lock text := pg_catalog.current_setting('lock_timeout');
begin
  -- Two passes at once would race to create the same table.
  if not pg_catalog.pg_try_advisory_xact_lock(7269, pg_catalog.hashtext(p_table)) then
    return 0;
  end if;
  for v_day in execute pg_catalog.format(
    'select d from pg_catalog.generate_series($1, $1 + interval ''2 days'',
                                              interval ''1 day'') d
     union
     select distinct pg_catalog.date_trunc(''day'', run_created_at, ''UTC'') from edgeflow.%I
     order by 1', p_table || '_default')
    using pg_catalog.date_trunc('day', edgeflow.now(), 'UTC')
  loop
    v_name := p_table || '_p' || pg_catalog.to_char(v_day at time zone 'UTC', 'YYYYMMDD');
    continue when pg_catalog.to_regclass('edgeflow.' || v_name) is not null;
    begin
      perform pg_catalog.set_config('lock_timeout', '100ms', true);
      -- A new partition may not cover rows the DEFAULT partition holds: move them.
      execute pg_catalog.format(
        'with moved as (delete from edgeflow.%I where run_created_at >= $1 and run_created_at < $2 returning *)
         select coalesce(jsonb_agg(to_jsonb(moved)), ''[]'') from moved', p_table || '_default')
        into v_rows using v_day, v_day + interval '1 day';
      execute pg_catalog.format(
        'create table edgeflow.%I partition of edgeflow.%I for values from (%L) to (%L)',
        v_name, p_table, v_day, v_day + interval '1 day');
      execute pg_catalog.format(
        'insert into edgeflow.%I overriding system value
         select * from jsonb_populate_recordset(null::edgeflow.%I, $1)', p_table, p_table)
        using v_rows;
      v_created := v_created + 1;
    exception when lock_not_available then
      null; -- the next pass tries again
    end;
    perform pg_catalog.set_config('lock_timeout', v_lock, true);
  end loop;
  return v_created;
end
$function$;
