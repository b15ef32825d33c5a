-- Create or change a tag limit. Lowering it below the slots in use takes
-- nothing away: running tasks finish, new claims wait until under the limit.
CREATE OR REPLACE FUNCTION edgeflow.set_concurrency_limit(p_tag text, p_limit integer)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_created boolean;
begin
  insert into edgeflow.concurrency_limits as l (tag, "limit") values (p_tag, p_limit)
  on conflict (tag) do update set "limit" = excluded."limit", updated_at = edgeflow.now()
  returning (l.xmax = 0) into v_created;
  return jsonb_build_object('limit', edgeflow.concurrency_limit_json(p_tag),
                            'created', v_created);
end
$function$;
