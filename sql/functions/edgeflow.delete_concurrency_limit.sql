-- Remove a tag limit; slots held under it are forgotten with it.
CREATE OR REPLACE FUNCTION edgeflow.delete_concurrency_limit(p_tag text)
 RETURNS boolean
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  delete from edgeflow.concurrency_limits where tag = p_tag;
  if not found then
    return false;
  end if;
  delete from edgeflow.slots where limit_key = 'tag:' || p_tag;
  return true;
end
$function$;
