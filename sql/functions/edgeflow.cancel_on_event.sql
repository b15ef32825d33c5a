-- Cancel the live runs an event names through their deployment's
-- `cancel_on` entries ({event, key, match}): a run is cancelled when its
-- rendered key (`{{ run.order_id }}` against its parameters) equals the
-- event's key and the payload satisfies the match. Reads the live runs of
-- the deployments concerned only (runs_deployment_newest). Returns how many
-- runs were cancelled.
CREATE OR REPLACE FUNCTION edgeflow.cancel_on_event(p_event_id uuid)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  e record;
  v_run uuid;
  v_n integer := 0;
begin
  select name, key, payload, received_at into e
    from edgeflow.inbound_events where id = p_event_id;
  if not found then
    return 0;
  end if;
  for v_run in
    select distinct r.id
      from edgeflow.deployments d
      cross join lateral jsonb_array_elements(d.cancel_on) as c(entry)
      join edgeflow.runs r on r.deployment_id = d.id
     where jsonb_array_length(d.cancel_on) > 0
       and c.entry ->> 'event' = e.name
       and r.status in ('SCHEDULED', 'PENDING', 'RUNNING')
       and r.created_at <= e.received_at
       and edgeflow._render_template(coalesce(c.entry ->> 'key', ''),
                                     jsonb_build_object('run', r.parameters)) = e.key
       and edgeflow._event_matches(e.payload, c.entry -> 'match')
     order by r.id
  loop
    if (edgeflow.cancel_run(v_run) ->> 'changed')::boolean then
      update edgeflow.runs
         set error = coalesce(error, '{}') || jsonb_build_object(
               'code', 'cancelled_by_event', 'event', p_event_id,
               'message', format('cancelled by event "%s" with key "%s"', e.name, e.key))
       where id = v_run;
      v_n := v_n + 1;
    end if;
  end loop;
  return v_n;
end
$function$;
