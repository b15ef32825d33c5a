-- A step completed: count down its dependents and the run. Returns the
-- dependents that became ready, in declaration order. Completes the run with
-- the outputs of its leaf steps when this was the last step.
CREATE OR REPLACE FUNCTION edgeflow._step_done(p_run_id uuid, p_flow_version_id uuid, p_slug text)
 RETURNS text[]
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_ready text[];
begin
  with dependents as (
    select unnest(fs.dependents) as slug from edgeflow.flow_steps fs
     where fs.flow_version_id = p_flow_version_id and fs.slug = p_slug
  ), counted as (
    update edgeflow.step_states ss set remaining_deps = ss.remaining_deps - 1
      from dependents d
     where ss.run_id = p_run_id and ss.slug = d.slug
    returning ss.slug, ss.remaining_deps, ss.step_index
  )
  select coalesce(array_agg(c.slug order by c.step_index) filter (where c.remaining_deps = 0),
                  '{}')
    into v_ready from counted c;

  -- The run counts down and, with no step left, completes with its leaf
  -- steps' outputs in the same update (one update fewer on a run's last step
  -- since migration 0265, as complete_tasks).
  update edgeflow.runs r
     set remaining_steps = r.remaining_steps - 1,
         status = case when r.remaining_steps = 1 then 'COMPLETED' else r.status end,
         ended_at = case when r.remaining_steps = 1 then edgeflow.now() else r.ended_at end,
         output = case when r.remaining_steps <> 1 then r.output
                       else (select coalesce(jsonb_object_agg(ss.slug, ss.output), '{}')
                               from edgeflow.step_states ss
                               join edgeflow.flow_steps fs
                                 on fs.flow_version_id = p_flow_version_id and fs.slug = ss.slug
                              where ss.run_id = p_run_id and cardinality(fs.dependents) = 0) end
   where r.id = p_run_id;
  return v_ready;
end
$function$;
