-- Issue 13: inbound webhooks (verified provider deliveries start runs, one per
-- delivery) and outbound run notifications through an outbox. Tables in
-- dependency order (webhooks before their deliveries, notifications before theirs).

-- An inbound webhook: a provider's signed request starts a run of a deployment.
-- Secrets are kept as given (an HMAC needs the key itself, a hash would not do);
-- they are never returned by the API. `rejected` counts refused requests
-- (bad signature, stale, inactive): nothing else of them is stored.
create table edgeflow.webhooks (
  id uuid default gen_random_uuid() not null,
  name text not null,
  deployment_id uuid not null,
  provider text not null,
  secrets text[] not null,
  options jsonb default '{}'::jsonb not null,
  filter jsonb default '{}'::jsonb not null,
  parameters jsonb default '{}'::jsonb not null,
  active boolean default true not null,
  rejected bigint default 0 not null,
  created_at timestamp with time zone not null,
  updated_at timestamp with time zone not null,
  constraint webhooks_pkey PRIMARY KEY (id),
  constraint webhooks_name_key UNIQUE (name),
  constraint webhooks_provider_check CHECK ((provider = ANY (ARRAY['github'::text, 'stripe'::text, 'standard'::text, 'slack'::text, 'hmac'::text, 'token'::text]))),
  constraint webhooks_deployment_id_fkey FOREIGN KEY (deployment_id) REFERENCES edgeflow.deployments(id) ON DELETE CASCADE
);

-- One row per (webhook, dedupe_key): the unique key is what makes a
-- redelivered request return the run of the first one. dedupe_key is the
-- provider's delivery id where the signature covers it (Stripe's event id,
-- webhook-id, Slack's event_id), else a hash of the signed body (GitHub,
-- hmac, token: their id headers are not signed, so a replay under a new id
-- must not start a second run); delivery_id is the id as sent, for people.
-- Payloads (headers, body, query) are kept for 7 days, the rows for 30
-- (prune_webhooks).
create table edgeflow.webhook_deliveries (
  id uuid default gen_random_uuid() not null,
  webhook_id uuid not null,
  delivery_id text not null,
  dedupe_key text not null,
  event text,
  outcome text not null,
  run_id uuid,
  error jsonb,
  headers jsonb,
  body text,
  query jsonb,
  redelivery_of uuid,
  received_at timestamp with time zone not null,
  constraint webhook_deliveries_pkey PRIMARY KEY (id),
  constraint webhook_deliveries_outcome_check CHECK ((outcome = ANY (ARRAY['started'::text, 'ignored'::text, 'failed'::text]))),
  constraint webhook_deliveries_run_id_fkey FOREIGN KEY (run_id) REFERENCES edgeflow.runs(id) ON DELETE SET NULL,
  constraint webhook_deliveries_webhook_id_fkey FOREIGN KEY (webhook_id) REFERENCES edgeflow.webhooks(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX webhook_deliveries_dedupe ON edgeflow.webhook_deliveries USING btree (webhook_id, dedupe_key);
CREATE INDEX webhook_deliveries_newest ON edgeflow.webhook_deliveries USING btree (webhook_id, received_at DESC, id DESC);
CREATE INDEX webhook_deliveries_received ON edgeflow.webhook_deliveries USING btree (received_at);

-- An outbound notification: run transitions POSTed, signed the Standard Webhooks way.
create table edgeflow.notifications (
  id uuid default gen_random_uuid() not null,
  name text not null,
  url text not null,
  secret text not null,
  events text[] not null,
  flows text[],
  deployments text[],
  active boolean default true not null,
  created_at timestamp with time zone not null,
  updated_at timestamp with time zone not null,
  constraint notifications_pkey PRIMARY KEY (id),
  constraint notifications_name_key UNIQUE (name)
);

-- The outbox: one row per (notification, run, event), written by the runs
-- trigger in the engine's transaction, sent after it by the drain (tick,
-- waitUntil, QStash wake-ups). `message_id` is the stable webhook-id.
create table edgeflow.notification_deliveries (
  id uuid default gen_random_uuid() not null,
  notification_id uuid not null,
  message_id text not null,
  run_id uuid not null,
  event text not null,
  payload jsonb not null,
  status text default 'pending'::text not null,
  attempts integer default 0 not null,
  next_attempt_at timestamp with time zone not null,
  last_attempt_at timestamp with time zone,
  last_status integer,
  last_error text,
  delivered_at timestamp with time zone,
  created_at timestamp with time zone not null,
  constraint notification_deliveries_pkey PRIMARY KEY (id),
  constraint notification_deliveries_message_id_key UNIQUE (message_id),
  constraint notification_deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'delivered'::text, 'failed'::text]))),
  constraint notification_deliveries_notification_id_fkey FOREIGN KEY (notification_id) REFERENCES edgeflow.notifications(id) ON DELETE CASCADE
);
-- The drain reads due rows through this index only.
CREATE INDEX notification_deliveries_due ON edgeflow.notification_deliveries USING btree (next_attempt_at) WHERE (status = 'pending'::text);
CREATE INDEX notification_deliveries_newest ON edgeflow.notification_deliveries USING btree (notification_id, created_at DESC, id DESC);

-- from sql/functions/edgeflow.claim_notifications.sql
-- Claim up to p_limit due outbox rows for sending: each gets its attempt
-- counted and is hidden for p_lease_seconds, so a drain that dies mid-send
-- hands its rows back by themselves and two drains never send one row twice
-- at once (skip locked).
CREATE OR REPLACE FUNCTION edgeflow.claim_notifications(p_limit integer DEFAULT 20, p_lease_seconds integer DEFAULT 60)
 RETURNS TABLE(id uuid, message_id text, url text, secret text, payload jsonb, attempts integer)
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  with due as (
    select d.id from edgeflow.notification_deliveries d
     where d.status = 'pending' and d.next_attempt_at <= edgeflow.now()
     order by d.next_attempt_at
     limit p_limit
       for update skip locked)
  update edgeflow.notification_deliveries d
     set attempts = d.attempts + 1, last_attempt_at = edgeflow.now(),
         next_attempt_at = edgeflow.now() + make_interval(secs => p_lease_seconds)
    from due, edgeflow.notifications n
   where d.id = due.id and n.id = d.notification_id
  returning d.id, d.message_id, n.url, n.secret, d.payload, d.attempts;
$function$;

-- from sql/functions/edgeflow.notification_result.sql
-- The answer to one attempt (claim_notifications): delivered on a 2xx, else
-- retried after 30 s × 2^(attempt-1), at most 6 h apart, until the next
-- attempt would fall more than 36 hours after the row was written (then
-- 'failed'): attempts at 0, 30 s, 1.5 min, … , 8.5 h, 14.5 h, 20.5 h, 26.5 h,
-- 32.5 h — over 24 hours of retries, 15 attempts. Only the current claim
-- (p_attempts) may settle the row. Returns {status, next_attempt_at}, or null.
CREATE OR REPLACE FUNCTION edgeflow.notification_result(p_id uuid, p_attempts integer, p_ok boolean, p_status integer, p_error text)
 RETURNS jsonb
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  with next as (
    select edgeflow.now() + make_interval(secs => least(30 * 2 ^ (p_attempts - 1), 21600)) as at)
  update edgeflow.notification_deliveries d
     set status = case when p_ok then 'delivered'
                       when next.at > d.created_at + interval '36 hours' then 'failed'
                       else 'pending' end,
         next_attempt_at = case when p_ok then d.next_attempt_at else next.at end,
         delivered_at = case when p_ok then edgeflow.now() end,
         last_status = p_status, last_error = left(p_error, 500)
    from next
   where d.id = p_id and d.attempts = p_attempts and d.status = 'pending'
  returning jsonb_build_object('status', d.status, 'next_attempt_at', edgeflow.iso(d.next_attempt_at));
$function$;

-- from sql/functions/edgeflow.prune_webhooks.sql
-- Bounded retention of the webhook logs: inbound payloads (headers, body,
-- query) are dropped after 7 days and delivery rows after 30 (a provider's
-- redelivery of an id older than that starts a run again); settled outbound
-- rows go after 30 days. At most p_limit rows of each per call.
CREATE OR REPLACE FUNCTION edgeflow.prune_webhooks(p_limit integer DEFAULT 1000)
 RETURNS integer
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  with payloads as (
    update edgeflow.webhook_deliveries set headers = null, body = null, query = null
     where id in (select id from edgeflow.webhook_deliveries
                   where received_at < edgeflow.now() - interval '7 days' and body is not null
                     and received_at >= edgeflow.now() - interval '30 days'
                   order by received_at limit p_limit)
    returning 1
  ), inbound as (
    delete from edgeflow.webhook_deliveries
     where id in (select id from edgeflow.webhook_deliveries
                   where received_at < edgeflow.now() - interval '30 days'
                   order by received_at limit p_limit)
    returning 1
  ), outbound as (
    delete from edgeflow.notification_deliveries
     where id in (select id from edgeflow.notification_deliveries
                   where status <> 'pending' and created_at < edgeflow.now() - interval '30 days'
                   limit p_limit)
    returning 1
  )
  select ((select count(*) from payloads) + (select count(*) from inbound)
          + (select count(*) from outbound))::integer;
$function$;

-- from sql/functions/edgeflow.webhook_accept.sql
-- Record one verified delivery of a webhook and, when its outcome is
-- 'started', start its run in the same transaction. The unique key
-- (webhook_id, dedupe_key) decides which of several concurrent redeliveries
-- starts the run: the others wait on the first one's row and then return its
-- run (`duplicate`). A delivery that failed (mapping, schema) is tried afresh
-- when it comes again. p_run: {flow_version_id, parameters, options} as
-- start_run takes them. Extension point: an outcome other than 'started'
-- (an event, say) would be handled here beside the run.
CREATE OR REPLACE FUNCTION edgeflow.webhook_accept(p_webhook_id uuid, p_delivery_id text, p_key text, p_event text, p_outcome text, p_error jsonb, p_payload jsonb, p_run jsonb, p_redelivery_of uuid DEFAULT NULL::uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_id uuid;
  v_old record;
  v_r jsonb;
begin
  insert into edgeflow.webhook_deliveries as d
         (webhook_id, delivery_id, dedupe_key, event, outcome, error, headers, body, query, redelivery_of,
          received_at)
  values (p_webhook_id, p_delivery_id, p_key, p_event, p_outcome, p_error, p_payload -> 'headers',
          p_payload ->> 'body', p_payload -> 'query', p_redelivery_of, edgeflow.now())
  on conflict (webhook_id, dedupe_key) do update
     set delivery_id = excluded.delivery_id, event = excluded.event, outcome = excluded.outcome, error = excluded.error,
         headers = excluded.headers, body = excluded.body, query = excluded.query,
         received_at = excluded.received_at, run_id = null
   where d.outcome = 'failed'
  returning d.id into v_id;
  if v_id is null then
    select d.id, d.outcome, d.run_id, d.error into v_old
      from edgeflow.webhook_deliveries d
     where d.webhook_id = p_webhook_id and d.dedupe_key = p_key;
    return jsonb_build_object('delivery', v_old.id, 'duplicate', true, 'outcome', v_old.outcome,
                              'run_id', v_old.run_id, 'error', v_old.error);
  end if;
  if p_outcome = 'started' then
    v_r := edgeflow.start_run((p_run ->> 'flow_version_id')::uuid, p_run -> 'parameters',
                              coalesce(p_run -> 'options', '{}'::jsonb));
    if v_r ? 'error' then
      update edgeflow.webhook_deliveries
         set outcome = 'failed', error = jsonb_build_object('code', v_r ->> 'error')
       where id = v_id;
      return jsonb_build_object('delivery', v_id, 'duplicate', false, 'outcome', 'failed',
                                'run_id', null, 'error', jsonb_build_object('code', v_r ->> 'error'));
    end if;
    update edgeflow.webhook_deliveries set run_id = (v_r ->> 'run_id')::uuid where id = v_id;
  end if;
  return jsonb_build_object('delivery', v_id, 'duplicate', false, 'outcome', p_outcome,
                            'run_id', v_r ->> 'run_id', 'error', p_error);
end
$function$;

-- from sql/triggers/runs.sql
-- The triggers on edgeflow.runs. Postgres fires the triggers of one event and timing
-- in name order: BEFORE triggers (statement, then each row), the change, AFTER
-- row triggers, then AFTER statement triggers.

-- Firing order (generated by sql:bootstrap from the catalog):
--   1. before update, for each row: runs_before_end → edgeflow._run_before_end() when ((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND ((new.status = 'CRASHED'::text) OR (old.awaiting_slot IS NOT NULL)))
--   2. after insert, for each row: events_run_insert → edgeflow._run_event()
--   3. after insert, for each row: runs_admit → edgeflow._run_admit() when (new.deployment_id IS NOT NULL)
--   4. after update, for each row: events_run_update → edgeflow._run_event() when (old.status IS DISTINCT FROM new.status)
--   5. after update, for each row: runs_after_child_end → edgeflow._subflow_child_end_trigger() when ((new.parent_task_id IS NOT NULL) AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))
--   6. after update, for each row: runs_after_end → edgeflow._run_after_end() when ((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))
--   7. after update, for each row: runs_stop_children → edgeflow._subflow_parent_stopped() when ((new.status = ANY (ARRAY['CANCELLING'::text, 'CANCELLED'::text, 'FAILED'::text, 'CRASHED'::text])) AND (old.status IS DISTINCT FROM new.status))

-- A new run of a limited deployment: a slot, a place in line, or cancelled.
-- A new run never overtakes one already waiting.
CREATE OR REPLACE FUNCTION edgeflow._run_admit()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  d record;
  v_key text := 'deployment:' || new.deployment_id;
begin
  select concurrency_limit, collision_strategy into d
    from edgeflow.deployments where id = new.deployment_id;
  if d.concurrency_limit is null or new.status not in ('SCHEDULED', 'PENDING') then
    return null;
  end if;
  perform edgeflow._slot_lock(v_key);
  if edgeflow._slots_held(v_key) < d.concurrency_limit
     and not exists (select 1 from edgeflow.runs w
                      where w.deployment_id = new.deployment_id and w.awaiting_slot is not null
                        and w.id <> new.id) then
    insert into edgeflow.slots (limit_key, holder, run_id) values (v_key, new.id, new.id);
  elsif d.collision_strategy = 'cancel_new' then
    update edgeflow.runs
       set status = 'CANCELLED', ended_at = edgeflow.now(),
           error = jsonb_build_object(
             'code', 'concurrency_limit',
             'message', format('the deployment already runs its limit of %s concurrent runs '
                               '(collision strategy cancel_new)', d.concurrency_limit))
     where id = new.id;
  else
    update edgeflow.runs set status = 'SCHEDULED', awaiting_slot = v_key where id = new.id;
  end if;
  return null;
end
$function$;

-- ... and gives back every slot it and its tasks hold; a freed deployment
-- slot goes to the next waiting run in the same transaction.
CREATE OR REPLACE FUNCTION edgeflow._run_after_end()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_freed text[];
begin
  with freed as (delete from edgeflow.slots where run_id = new.id returning limit_key)
  select array_agg(limit_key) into v_freed from freed;
  if new.deployment_id is not null and ('deployment:' || new.deployment_id) = any(v_freed) then
    perform edgeflow._admit_waiting(new.deployment_id);
  end if;
  return null;
end
$function$;

-- A run reaching a final state: it waits for nothing any more, and a crash
-- of a Lazarus flow is marked for resumption (at most 3 times).
CREATE OR REPLACE FUNCTION edgeflow._run_before_end()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  new.awaiting_slot := null;
  if new.status = 'CRASHED' then
    if coalesce((select (fv.settings ->> 'lazarus')::boolean from edgeflow.flow_versions fv
                  where fv.id = new.flow_version_id), false) then
      if new.resurrections < 3 then
        new.lazarus_due := true;
      else
        new.error := coalesce(new.error, '{}') || jsonb_build_object(
          'resurrections', new.resurrections,
          'lazarus', 'gave up: the run crashed again after 3 resurrections');
      end if;
    end if;
  end if;
  return new;
end
$function$;

CREATE OR REPLACE FUNCTION edgeflow._run_event()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  insert into edgeflow.events (run_id, kind, from_status, to_status, error)
  values (new.id, 'run', case when tg_op = 'UPDATE' then old.status end, new.status,
          case when new.status in ('FAILED', 'CRASHED') then new.error end);
  perform edgeflow._notify_event(new.id);
  return null;
end
$function$;

-- THE HOOK for outbound notifications (issue 13), and the only one in the
-- engine: a run reaching a final state writes one outbox row per matching
-- notification, in the transaction that ended the run. It sends nothing: the
-- drain (shared/notifications/) does after the commit, so a slow or dead
-- receiver never holds the engine's transaction. Without any active
-- notification for the event it costs one index-less lookup of a tiny table.
CREATE OR REPLACE FUNCTION edgeflow._run_notify()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_event text := 'run.' || lower(new.status);
  v_deployment text;
begin
  if not exists (select 1 from edgeflow.notifications n
                  where n.active and v_event = any(n.events)) then
    return null;
  end if;
  select d.name into v_deployment from edgeflow.deployments d where d.id = new.deployment_id;
  insert into edgeflow.notification_deliveries
         (notification_id, message_id, run_id, event, payload, next_attempt_at, created_at)
  select n.id, 'msg_' || md5(n.id::text || ':' || new.id::text || ':' || v_event), new.id, v_event,
         jsonb_build_object(
           'type', v_event,
           'timestamp', edgeflow.iso(coalesce(new.ended_at, edgeflow.now())),
           'data', jsonb_build_object(
             'run_id', new.id, 'flow', new.flow_name, 'version', new.version,
             'deployment', v_deployment, 'status', new.status, 'parameters', new.parameters,
             'output', new.output, 'error', new.error,
             'created_at', edgeflow.iso(new.created_at), 'started_at', edgeflow.iso(new.started_at),
             'ended_at', edgeflow.iso(new.ended_at))),
         edgeflow.now(), edgeflow.now()
    from edgeflow.notifications n
   where n.active and v_event = any(n.events)
     and (n.flows is null or new.flow_name = any(n.flows))
     and (n.deployments is null or v_deployment = any(n.deployments))
  on conflict (message_id) do nothing;
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION edgeflow._subflow_child_end_trigger()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  perform edgeflow._subflow_child_ended(new.id);
  return null;
end
$function$;

-- Cancel the running subflow tasks of a run that stops, and their children.
-- Queued ones (waiting out a backoff) are cancelled by the engine's own
-- _cancel_queued_tasks, which every stopping path calls.
CREATE OR REPLACE FUNCTION edgeflow._subflow_parent_stopped()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  t record;
begin
  for t in
    select tk.id, tk.subflow_run_id from edgeflow.tasks tk
     where tk.run_id = new.id and tk.status = 'RUNNING' and tk.queue_name = 'ef_subflows'
     order by tk.task_index
       for update
  loop
    -- The task first: the child's end trigger then sees nothing to settle.
    update edgeflow.tasks set status = 'CANCELLED', lease = null, ended_at = edgeflow.now()
     where id = t.id;
    perform 1 from edgeflow.runs where id = t.subflow_run_id for update skip locked;
    if found then
      perform edgeflow.cancel_run(t.subflow_run_id);
    end if;
  end loop;
  if found and new.status = 'CANCELLING' then
    -- Its subflow tasks were what kept it CANCELLING; worker tasks may remain.
    perform edgeflow._settle_cancelling(new.id);
  end if;
  return null;
end
$function$;

-- Only crashes and waiting runs enter PL/pgSQL: a run completing normally
-- passes by on the WHEN clause.
CREATE OR REPLACE TRIGGER runs_before_end BEFORE UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND ((new.status = 'CRASHED'::text) OR (old.awaiting_slot IS NOT NULL)))) EXECUTE FUNCTION edgeflow._run_before_end();

-- A run's creation is an event (from null); steps and tasks are created in
-- their first state together with the run or their step's QUEUED event, so
-- only their changes are.
CREATE OR REPLACE TRIGGER events_run_insert AFTER INSERT ON edgeflow.runs FOR EACH ROW EXECUTE FUNCTION edgeflow._run_event();

CREATE OR REPLACE TRIGGER runs_admit AFTER INSERT ON edgeflow.runs FOR EACH ROW WHEN ((new.deployment_id IS NOT NULL)) EXECUTE FUNCTION edgeflow._run_admit();

CREATE OR REPLACE TRIGGER events_run_update AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN ((old.status IS DISTINCT FROM new.status)) EXECUTE FUNCTION edgeflow._run_event();

CREATE OR REPLACE TRIGGER runs_after_child_end AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.parent_task_id IS NOT NULL) AND (new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))) EXECUTE FUNCTION edgeflow._subflow_child_end_trigger();

CREATE OR REPLACE TRIGGER runs_after_end AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))) EXECUTE FUNCTION edgeflow._run_after_end();

-- Outbound notifications: see edgeflow._run_notify above.
CREATE OR REPLACE TRIGGER runs_notify AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])) AND (old.status <> ALL (ARRAY['COMPLETED'::text, 'FAILED'::text, 'CANCELLED'::text, 'CRASHED'::text])))) EXECUTE FUNCTION edgeflow._run_notify();

CREATE OR REPLACE TRIGGER runs_stop_children AFTER UPDATE OF status ON edgeflow.runs FOR EACH ROW WHEN (((new.status = ANY (ARRAY['CANCELLING'::text, 'CANCELLED'::text, 'FAILED'::text, 'CRASHED'::text])) AND (old.status IS DISTINCT FROM new.status))) EXECUTE FUNCTION edgeflow._subflow_parent_stopped();
