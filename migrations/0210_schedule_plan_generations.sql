-- Schedules offered for planning by generation, not by comparing every
-- schedule with its plan (the empty tick's cost; sql/schema/40_schedules.sql).
-- Every existing schedule starts unplanned (plan_gen 1, planned_gen 0): the
-- ticks after this migration plan them again, within their budget.
alter table edgeflow.schedule_plans add column refill_at timestamp with time zone;
update edgeflow.schedule_plans
   set refill_at = planned_until - least(interval '3.5 days', (planned_until - times[1]) / 2)
 where not final;
alter table edgeflow.schedules add column plan_gen bigint default 1 not null;
alter table edgeflow.schedules add column planned_gen bigint default 0 not null;
-- schedule_plan_generations: written by `deno task sql:migration` from what changed in sql/.

CREATE INDEX schedule_plans_refill ON edgeflow.schedule_plans USING btree (refill_at) WHERE (refill_at IS NOT NULL);

CREATE INDEX schedules_to_plan ON edgeflow.schedules USING btree (next_fire_at, id) WHERE ((plan_gen <> planned_gen) AND active AND (NOT deployment_paused) AND (next_fire_at IS NOT NULL));

-- from sql/functions/edgeflow.save_schedule_plans.sql
-- Store plans made in TypeScript: items {id, gen, spec, timezone,
-- parameters, version_id, times, until, final, refill_at}, gen being the
-- schedule's plan_gen the plan was made from (edgeflow.schedules_to_plan). The
-- schedule counts as planned (planned_gen := gen) only while its plan_gen is
-- still gen: a deploy, a new flow version or a parameter change committed in
-- between bumped it, so the schedule is planned again, and the SQL tick
-- ignores the plan meanwhile (it compares the plan with the schedule). An
-- item without gen (an older caller) is stored and leaves the schedule to
-- plan. An item {id, gen, none: true} is a schedule that gets no plan (its
-- parameters do not fit its flow version): it counts as planned and its old
-- plan (which the SQL tick ignores, as it no longer matches) is not made
-- again, so it is not offered on every tick until its inputs change (the
-- SQL tick counts it unplanned; the HTTP tick records why).
-- Returns the count of plans stored.
CREATE OR REPLACE FUNCTION edgeflow.save_schedule_plans(p_items jsonb)
 RETURNS integer
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  with live as (
    select s.id from edgeflow.schedules s
     where s.id in (select (i ->> 'id')::uuid from jsonb_array_elements(p_items) i)
     order by s.id
       for key share),
  saved as (
    insert into edgeflow.schedule_plans as p
           (schedule_id, spec, timezone, parameters, version_id, times, planned_until, final,
            refill_at)
    select (i ->> 'id')::uuid, i -> 'spec', i ->> 'timezone', i -> 'parameters',
           (i ->> 'version_id')::uuid,
           array(select jsonb_array_elements_text(i -> 'times')::timestamptz),
           (i ->> 'until')::timestamptz, (i ->> 'final')::boolean,
           (i ->> 'refill_at')::timestamptz
      from jsonb_array_elements(p_items) i
     where (i ->> 'id')::uuid in (select id from live)
       and not coalesce((i ->> 'none')::boolean, false)
    on conflict (schedule_id) do update
       set spec = excluded.spec, timezone = excluded.timezone, parameters = excluded.parameters,
           version_id = excluded.version_id, times = excluded.times,
           planned_until = excluded.planned_until, final = excluded.final,
           refill_at = excluded.refill_at
    returning p.schedule_id),
  unplanned as (
    update edgeflow.schedule_plans p set refill_at = null
     where p.schedule_id in (select (i ->> 'id')::uuid from jsonb_array_elements(p_items) i
                              where coalesce((i ->> 'none')::boolean, false))),
  planned as (
    update edgeflow.schedules s set planned_gen = (i ->> 'gen')::bigint
      from jsonb_array_elements(p_items) i
     where s.id = (i ->> 'id')::uuid and s.plan_gen = (i ->> 'gen')::bigint
       and (s.id in (select schedule_id from saved)
            or (coalesce((i ->> 'none')::boolean, false) and s.id in (select id from live))))
  select count(*)::int from saved;
$function$;

-- from sql/functions/edgeflow.schedules_to_plan.sql
-- Schedules whose plan (edgeflow.schedule_plans) is missing or made from an
-- older state (plan_gen <> planned_gen: the triggers of schedules,
-- deployments and flow_versions bump plan_gen when spec, timezone,
-- parameters, flow version or liveness change), or due to be made again
-- (refill_at passed: half of it is gone, at most p_refill before its end),
-- with what planning needs (as edgeflow.due_schedules gives it) and the
-- generation it is made from (`gen`, for edgeflow.save_schedule_plans). At
-- most p_limit of them, the earliest first. Both sets come from partial
-- indexes, so an empty tick reads no schedule: comparing every schedule with
-- its plan was 350 ms of a 10,000-schedule tick (63,036 buffers, loaded
-- machine), against 0.2 ms this way. p_refill is kept for callers; the
-- refill time is stored with each plan.
CREATE OR REPLACE FUNCTION edgeflow.schedules_to_plan(p_now timestamp with time zone, p_refill interval, p_limit integer)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', x.id, 'spec', x.spec, 'timezone', x.timezone,
           'next_fire_at', edgeflow.iso(x.next_fire_at),
           'parameters', x.parameters, 'pool', x.pool,
           'version_id', x.version_id, 'schema', x.definition -> 'parameters',
           'gen', x.plan_gen)
         order by x.next_fire_at, x.id), '[]')
    from (
      select s.id, s.spec, s.timezone, s.next_fire_at, d.parameters || s.parameters as parameters,
             d.pool, v.id as version_id, v.definition, s.plan_gen
        from (select c.id from (
                (select s1.id, s1.next_fire_at from edgeflow.schedules s1
                  where s1.plan_gen <> s1.planned_gen and s1.active and not s1.deployment_paused
                    and s1.next_fire_at is not null
                  order by s1.next_fire_at, s1.id
                  limit p_limit)
                union
                (select s2.id, s2.next_fire_at from edgeflow.schedule_plans p
                   join edgeflow.schedules s2 on s2.id = p.schedule_id
                  where p.refill_at is not null and p.refill_at < p_now
                    and s2.active and not s2.deployment_paused and s2.next_fire_at is not null
                  order by p.refill_at
                  limit p_limit)) c
              order by c.next_fire_at, c.id
              limit p_limit) c
        join edgeflow.schedules s on s.id = c.id
        join edgeflow.deployments d on d.id = s.deployment_id
        left join lateral (
          select fv.id, fv.definition from edgeflow.flow_versions fv
           where fv.flow_name = d.flow_name
             and (d.version_pin is null or fv.version = d.version_pin)
           order by (d.version_pin is null and fv.archived), fv.version desc
           limit 1) v on true) x;
$function$;

-- from sql/triggers/deployments.sql
-- The triggers on edgeflow.deployments. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order (generated by sql:bootstrap from the catalog):
--   1. after update, for each row: deployments_limit_changed → edgeflow._deployment_limit_changed() when (old.concurrency_limit IS DISTINCT FROM new.concurrency_limit)
--   2. after update, for each row: deployments_pause_schedules → edgeflow._deployment_pause_schedules() when (old.paused IS DISTINCT FROM new.paused)
--   3. after update, for each row: deployments_replan_schedules → edgeflow._deployment_replan_schedules() when (parameters, version_pin or flow_name changed)

-- Raising (or removing) a deployment's limit starts waiting runs at once.
CREATE OR REPLACE FUNCTION edgeflow._deployment_limit_changed()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  perform edgeflow._admit_waiting(new.id);
  return null;
end
$function$;

-- Pausing a deployment pauses its schedules, whichever path changes the flag.
CREATE OR REPLACE FUNCTION edgeflow._deployment_pause_schedules()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update edgeflow.schedules
     set deployment_paused = new.paused,
         resumed_at = case when new.paused then resumed_at else edgeflow.now() end
   where deployment_id = new.id;
  if new.paused then
    perform edgeflow._withdraw_planned_runs(
      array(select id from edgeflow.schedules where deployment_id = new.id), edgeflow.now());
  end if;
  return null;
end
$function$;

-- The deployment's parameters, version pin or flow are part of its schedules'
-- plans: they are made again (edgeflow.schedules_to_plan).
CREATE OR REPLACE FUNCTION edgeflow._deployment_replan_schedules()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update edgeflow.schedules set plan_gen = plan_gen + 1 where deployment_id = new.id;
  return null;
end
$function$;

CREATE OR REPLACE TRIGGER deployments_limit_changed AFTER UPDATE OF concurrency_limit ON edgeflow.deployments FOR EACH ROW WHEN ((old.concurrency_limit IS DISTINCT FROM new.concurrency_limit)) EXECUTE FUNCTION edgeflow._deployment_limit_changed();

CREATE OR REPLACE TRIGGER deployments_pause_schedules AFTER UPDATE OF paused ON edgeflow.deployments FOR EACH ROW WHEN ((old.paused IS DISTINCT FROM new.paused)) EXECUTE FUNCTION edgeflow._deployment_pause_schedules();

CREATE OR REPLACE TRIGGER deployments_replan_schedules AFTER UPDATE ON edgeflow.deployments FOR EACH ROW WHEN (((old.parameters IS DISTINCT FROM new.parameters) OR (old.version_pin IS DISTINCT FROM new.version_pin) OR (old.flow_name IS DISTINCT FROM new.flow_name))) EXECUTE FUNCTION edgeflow._deployment_replan_schedules();

-- from sql/triggers/flow_versions.sql
-- The triggers on edgeflow.flow_versions. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order:
--   1. after insert or delete or update, for each row: flow_versions_replan → edgeflow._flow_version_replan() (insert, delete, or archived changed)

-- A new, archived or restored version can change which version the
-- deployments of its flow run, so the plans of their schedules are made
-- again (edgeflow.schedules_to_plan). Registering a flow whose deployments
-- have no schedules updates nothing.
CREATE OR REPLACE FUNCTION edgeflow._flow_version_replan()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_flow text := case when tg_op = 'DELETE' then old.flow_name else new.flow_name end;
begin
  if tg_op = 'UPDATE' and old.archived is not distinct from new.archived then
    return null;
  end if;
  update edgeflow.schedules s set plan_gen = s.plan_gen + 1
    from edgeflow.deployments d
   where d.flow_name = v_flow and s.deployment_id = d.id;
  return null;
end
$function$;

CREATE OR REPLACE TRIGGER flow_versions_replan AFTER INSERT OR DELETE OR UPDATE OF archived ON edgeflow.flow_versions FOR EACH ROW EXECUTE FUNCTION edgeflow._flow_version_replan();

-- from sql/triggers/schedule_plans.sql
-- The triggers on edgeflow.schedule_plans. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order:
--   1. after delete, for each statement: schedule_plans_deleted → edgeflow._schedule_plans_deleted()

-- A plan deleted while its schedule stays (by hand: nothing in edgeflow
-- deletes one but with its schedule) is made again: its schedule's
-- generation moves past the planned one (edgeflow.schedules_to_plan).
CREATE OR REPLACE FUNCTION edgeflow._schedule_plans_deleted()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  update edgeflow.schedules s set plan_gen = s.plan_gen + 1
   where s.id in (select o.schedule_id from old_rows o);
  return null;
end
$function$;

CREATE OR REPLACE TRIGGER schedule_plans_deleted AFTER DELETE ON edgeflow.schedule_plans REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION edgeflow._schedule_plans_deleted();

-- from sql/triggers/schedules.sql
-- The triggers on edgeflow.schedules. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order:
--   1. before update, for each row: schedules_plan_gen → edgeflow._schedule_plan_gen() when (a plan's input changed)

-- A change to what a schedule's plan is made from (spec, timezone,
-- parameters, whether it is live, next_fire_at moved back) makes its plan
-- old: edgeflow.schedules_to_plan finds it by the index on plan_gen <>
-- planned_gen. A fire moving next_fire_at forward does not: the plan holds
-- the times after it. Every other update passes by on the WHEN clause.
CREATE OR REPLACE FUNCTION edgeflow._schedule_plan_gen()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  new.plan_gen := old.plan_gen + 1;
  return new;
end
$function$;

CREATE OR REPLACE TRIGGER schedules_plan_gen BEFORE UPDATE ON edgeflow.schedules FOR EACH ROW WHEN ((((old.spec - 'active'::text) IS DISTINCT FROM (new.spec - 'active'::text)) OR (old.timezone IS DISTINCT FROM new.timezone) OR (old.parameters IS DISTINCT FROM new.parameters) OR (old.active IS DISTINCT FROM new.active) OR (old.deployment_paused IS DISTINCT FROM new.deployment_paused) OR (old.deployment_id IS DISTINCT FROM new.deployment_id) OR ((new.next_fire_at IS NULL) <> (old.next_fire_at IS NULL)) OR (new.next_fire_at < old.next_fire_at))) EXECUTE FUNCTION edgeflow._schedule_plan_gen();
