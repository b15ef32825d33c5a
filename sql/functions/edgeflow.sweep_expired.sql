-- The tick prunes them with the sweep (sweep_expired is what it calls).
CREATE OR REPLACE FUNCTION edgeflow.sweep_expired(p_limit integer DEFAULT 1000)
 RETURNS jsonb
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  select jsonb_build_object('swept', m -> 'swept', 'requeued', m -> 'requeued',
                            'failed', m -> 'failed', 'cancelled', m -> 'cancelled')
    from edgeflow.maintenance(p_limit) as m;
$function$;
