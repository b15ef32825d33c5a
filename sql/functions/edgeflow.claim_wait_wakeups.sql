-- Waits whose timeout no QStash delayed message was published for yet, at
-- most `p_limit`, soonest first: marked sent and returned, for the caller to
-- publish (shared/qstash/wait_wakeups.ts). Rows taken with `skip locked`, so
-- two requests publishing at once take different waits; a wait locked by an
-- event ending it is left (it is being deleted). Nothing here decides a
-- timeout: the message only calls edgeflow.fire_wait_timeouts early, whose
-- delete of the wait's row decides against a racing event. A publish that
-- fails leaves the wait to the tick.
CREATE OR REPLACE FUNCTION edgeflow.claim_wait_wakeups(p_limit integer DEFAULT 100)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_out jsonb;
begin
  with due as (
    select w.run_id, w.slug from edgeflow.waits w
     where w.wake_sent_at is null
     order by w.timeout_at limit p_limit
       for update skip locked
  ), sent as (
    update edgeflow.waits w set wake_sent_at = edgeflow.now()
      from due where w.run_id = due.run_id and w.slug = due.slug
    returning w.run_id, w.slug, w.timeout_at, w.created_at
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'run_id', sent.run_id, 'slug', sent.slug, 'timeout_at', edgeflow.iso(sent.timeout_at),
           'created_at', edgeflow.iso(sent.created_at)) order by sent.timeout_at), '[]')
    into v_out
    from sent;
  return v_out;
end
$function$;
