-- A QStash delivery for one fire time: create its run once. The delivery is
-- recorded under its message id in the same transaction, so a redelivery
-- returns the first answer and creates nothing; the run's (schedule, time)
-- key covers a fire time that reaches us twice under different messages.
CREATE OR REPLACE FUNCTION edgeflow.fire_schedule_at(p_id uuid, p_time timestamp with time zone, p_message_id text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  s record;
  v_result jsonb;
begin
  if p_message_id is not null then
    insert into edgeflow.qstash_deliveries (message_id, schedule_id, scheduled_time, received_at)
    values (p_message_id, p_id, p_time, edgeflow.now()) on conflict do nothing;
    if not found then
      select result into v_result from edgeflow.qstash_deliveries
       where message_id = p_message_id;
      return coalesce(v_result, '{}') || jsonb_build_object('duplicate', true, 'created', 0);
    end if;
  end if;
  select sc.active, sc.deployment_paused into s from edgeflow.schedules sc where sc.id = p_id;
  if not found then
    v_result := jsonb_build_object('created', 0, 'skipped', 'no such schedule');
  elsif not s.active or s.deployment_paused then
    v_result := jsonb_build_object('created', 0, 'skipped', 'the schedule is paused');
  else
    v_result := edgeflow._start_scheduled_runs(p_id, array[p_time]);
    if v_result ? 'error' then
      update edgeflow.schedules set last_error = v_result -> 'error' where id = p_id;
    end if;
  end if;
  if p_message_id is not null then
    update edgeflow.qstash_deliveries set result = v_result where message_id = p_message_id;
  end if;
  return v_result || jsonb_build_object('duplicate', false);
end
$function$;
