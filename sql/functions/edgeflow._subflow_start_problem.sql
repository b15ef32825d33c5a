-- What keeps a subflow task from starting a child, checked before the
-- parameters are built and again when the child starts; null when nothing.
CREATE OR REPLACE FUNCTION edgeflow._subflow_start_problem(p_run_id uuid, p_slug text, p_deployment text, p_args jsonb, d jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_depth integer;
  v_max integer := edgeflow.max_run_depth();
  v_error text;
begin
  v_error := case
    when d is null then format('deployment "%s" does not exist', p_deployment)
    when (d ->> 'paused')::boolean then format('deployment "%s" is paused', p_deployment)
    when d ->> 'version_id' is null then format('deployment "%s" has no flow version',
                                                 p_deployment)
    when (d ->> 'archived')::boolean then format(
      'deployment "%s" runs version %s of flow "%s", which is archived',
      p_deployment, d ->> 'version', d ->> 'flow')
    when p_args is not null and jsonb_typeof(p_args) not in ('object', 'null') then
      'the step''s args must be an object: they become the child run''s parameters'
  end;
  if v_error is not null then
    return jsonb_build_object('message', format('step "%s": %s', p_slug, v_error),
                              'code', 'subflow_refused', 'deployment', p_deployment);
  end if;
  v_depth := edgeflow.run_depth(p_run_id) + 1;
  if v_depth > v_max then
    return jsonb_build_object(
      'message', format('step "%s": a child run of deployment "%s" would be nested %s deep, '
                        'over the limit of %s (setting edgeflow.max_run_depth); '
                        'does the deployment lead back to itself?',
                        p_slug, p_deployment, v_depth, v_max),
      'code', 'subflow_depth_exceeded', 'deployment', p_deployment, 'max_depth', v_max);
  end if;
  return null;
end
$function$;
