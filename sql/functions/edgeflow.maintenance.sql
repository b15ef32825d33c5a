-- The maintenance pass of the tick: the sweep, pruning of rate-limit windows,
-- then retention of finished runs (edgeflow.prune). Their event partitions
-- are the ticks' last step (edgeflow.maintain_partitions). Expired leases are
-- counted for /metrics. Before all, handler queues whose table is gone are
-- made again (edgeflow._repair_queues: a restore of a pg_dump with the real
-- pgmq extension; the sweep would fail on them); last, the static pgmq calls
-- are written again if a handler queue is missing from them
-- (edgeflow._mq_compile: a queue made while another transaction compiled;
-- nothing is replaced when none is).
CREATE OR REPLACE FUNCTION edgeflow.maintenance(p_limit integer DEFAULT 1000, p_retention_days integer DEFAULT 30)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  -- First, queues whose table is gone (a restore): the sweep sends to them.
  v_repaired integer := edgeflow._repair_queues();
  v_sweep jsonb := edgeflow.sweep(p_limit);
begin
  if (v_sweep ->> 'swept')::int > 0 then
    insert into edgeflow.maintenance_counters as m (name, value)
    values ('lease_expiries', (v_sweep ->> 'swept')::int)
    on conflict (name) do update set value = m.value + excluded.value;
  end if;
  v_sweep := v_sweep || jsonb_build_object('pruned', edgeflow.prune_rate_limits(p_limit));
  v_sweep := v_sweep || edgeflow.prune(p_limit, p_retention_days);
  perform edgeflow._mq_compile();
  return v_sweep;
end
$function$;
