-- The tick prunes them with the sweep (sweep_expired is what it calls).
CREATE OR REPLACE FUNCTION edgeflow.sweep_expired(p_limit integer DEFAULT 1000)
 RETURNS jsonb
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  select jsonb_build_object('swept', s -> 'swept', 'requeued', s -> 'requeued',
                            'failed', s -> 'failed', 'cancelled', s -> 'cancelled')
    from edgeflow.sweep(p_limit) as s, edgeflow.prune_rate_limits(p_limit) as p;
$function$;
