-- Start the runs of a schedule for the given fire times through start_run:
-- SCHEDULED until their time, with the deployment's pool, queue and tags and
-- the merged parameters. The idempotency key (scope `schedule:<id>`, key the
-- fire time) makes a second request for the same fire time return the first
-- run, whoever asks. Returns {created, runs, error?}.
CREATE OR REPLACE FUNCTION edgeflow._start_scheduled_runs(p_id uuid, p_times timestamp with time zone[])
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
  v_time timestamptz;
  v_run jsonb;
  v_runs jsonb := '[]';
  v_created integer := 0;
begin
  select d.id as deployment_id, d.pool, d.queue, d.tags, d.parameters || s.parameters as params,
         v.id as version_id
    into t
    from edgeflow.schedules s
    join edgeflow.deployments d on d.id = s.deployment_id
    left join lateral (
      select fv.id from edgeflow.flow_versions fv
       where fv.flow_name = d.flow_name
         and (d.version_pin is null or fv.version = d.version_pin)
       order by (d.version_pin is null and fv.archived), fv.version desc
       limit 1) v on true
   where s.id = p_id;
  if t.version_id is null then
    return jsonb_build_object('created', 0, 'runs', '[]'::jsonb,
                              'error', jsonb_build_object('code', 'no_version',
                                'message', 'the deployment has no flow version to run'));
  end if;
  foreach v_time in array p_times loop
    v_run := edgeflow.start_run(t.version_id, t.params, jsonb_build_object(
      'deployment_id', t.deployment_id, 'pool', t.pool, 'queue', t.queue,
      'tags', to_jsonb(t.tags), 'scheduled_time', edgeflow.iso(v_time),
      'idempotency_scope', 'schedule:' || p_id, 'idempotency_key', edgeflow.iso(v_time)));
    if v_run ? 'error' then
      return jsonb_build_object('created', v_created, 'runs', v_runs,
                                'error', jsonb_build_object('code', v_run ->> 'error',
                                  'message', 'start_run refused the scheduled run'));
    end if;
    if (v_run ->> 'created')::boolean then
      v_created := v_created + 1;
    end if;
    v_runs := v_runs || jsonb_build_array(jsonb_build_object(
      'run_id', v_run -> 'run_id', 'scheduled_time', edgeflow.iso(v_time),
      'created', v_run -> 'created'));
  end loop;
  return jsonb_build_object('created', v_created, 'runs', v_runs);
end
$function$;
