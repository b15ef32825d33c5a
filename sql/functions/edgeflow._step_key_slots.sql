-- The per-key slots a step with `concurrency` entries needs (issue 16): one
-- per entry, keyed 'skey:<flow>/<slug>#<entry>:<rendered key>' (the key
-- template against the run's parameters and the step's dependencies' outputs;
-- naming nothing renders as ""), with the entry's limit. A key counts across
-- the versions of the flow.
CREATE OR REPLACE FUNCTION edgeflow._step_key_slots(p_run_id uuid, p_slug text)
 RETURNS TABLE(limit_key text, slot_limit integer)
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select 'skey:' || r.flow_name || '/' || fs.slug || '#' || (c.ord - 1) || ':'
           || coalesce(edgeflow._render_template(c.entry ->> 'key', jsonb_build_object(
                'run', r.parameters,
                'deps', (select coalesce(jsonb_object_agg(ss.slug, ss.output), '{}')
                           from edgeflow.step_states ss
                          where ss.run_id = r.id and ss.slug = any(fs.depends_on)))), ''),
         (c.entry ->> 'limit')::integer
    from edgeflow.runs r
    join edgeflow.flow_steps fs on fs.flow_version_id = r.flow_version_id and fs.slug = p_slug
    cross join lateral jsonb_array_elements(fs.concurrency) with ordinality as c(entry, ord)
   where r.id = p_run_id
   order by c.ord;
$function$;
