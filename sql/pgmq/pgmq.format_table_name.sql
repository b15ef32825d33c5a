-- Queue names become table names: keep them to what pgmq accepts.
CREATE OR REPLACE FUNCTION pgmq.format_table_name(queue_name text, prefix text)
 RETURNS text
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO ''
AS $function$
begin
  if queue_name !~ '^[A-Za-z0-9_]+$' then
    raise exception 'queue name contains invalid characters: %', queue_name using errcode = '22023';
  end if;
  if length(queue_name) >= 48 then
    raise exception 'queue name is too long, maximum length is 47 characters' using errcode = '22023';
  end if;
  return lower(prefix || '_' || queue_name);
end
$function$;
