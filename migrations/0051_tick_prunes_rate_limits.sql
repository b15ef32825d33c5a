-- The tick's maintenance pass is one function, and it is the one that
-- prunes (issue 10 item 17). 0019 hooked prune_rate_limits into
-- sweep_expired, but the tick calls edgeflow.sweep(), so ended rate-limit
-- windows and expired duplicate keys were never deleted in production.
-- `maintenance` is what the tick calls, what tests/bench/sweep.ts times,
-- and what sweep_expired (the engine's own entry point) now reports from.

create function edgeflow.maintenance(p_limit integer default 1000)
returns jsonb language plpgsql set search_path = '' as $$
declare
  v_sweep jsonb := edgeflow.sweep(p_limit);
begin
  return v_sweep || jsonb_build_object('pruned', edgeflow.prune_rate_limits(p_limit));
end
$$;

create or replace function edgeflow.sweep_expired(p_limit integer default 1000)
returns jsonb language sql set search_path = '' as $$
  select jsonb_build_object('swept', m -> 'swept', 'requeued', m -> 'requeued',
                            'failed', m -> 'failed', 'cancelled', m -> 'cancelled')
    from edgeflow.maintenance(p_limit) as m;
$$;
