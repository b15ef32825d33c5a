-- edgeflow on Supabase: call the scheduler tick every minute (pg_cron + pg_net).
--
-- The tick (POST /trigger/tick) creates the runs of schedules due within the
-- next 90 seconds, each SCHEDULED with its exact fire time and its tasks
-- invisible until then, so a once-a-minute tick still starts runs to the
-- second. It also sweeps expired leases and, with QStash, pushes tasks of
-- push pools. Ticks that overlap or repeat never create a duplicate run.
--
-- Run this once in the SQL editor (or a migration of your own), after
-- `supabase functions deploy trigger`. Safe to run again: secrets are made
-- only when missing, and cron.schedule replaces a job of the same name.
--
-- Two things to fill in:
--   1. the URL of your functions, https://<project-ref>.supabase.co/functions/v1
--   2. an edgeflow API key with the `trigger` scope (POST /deploy/keys
--      {"name":"pg_cron","scopes":["trigger"]}; the key is shown once).
-- Both go into Vault, so they appear neither in cron.job nor in logs.
--
-- edgeflow authenticates with its own keys, so the `trigger` function is
-- deployed without Supabase's JWT check (`verify_jwt = false` for it in
-- supabase/config.toml, or `supabase functions deploy trigger --no-verify-jwt`).

create extension if not exists pg_cron;
create extension if not exists pg_net;

-- Created only when missing, so running this file again changes nothing.
do $vault$
begin
  if not exists (select 1 from vault.secrets where name = 'edgeflow_functions_url') then
    perform vault.create_secret('https://<project-ref>.supabase.co/functions/v1',
                                'edgeflow_functions_url', 'edgeflow: base URL of the edge functions');
  end if;
  if not exists (select 1 from vault.secrets where name = 'edgeflow_tick_key') then
    perform vault.create_secret('<edgeflow API key with the trigger scope>',
                                'edgeflow_tick_key', 'edgeflow: API key pg_cron ticks with');
  end if;
end
$vault$;
-- To change one later:
--   select vault.update_secret(id, '<new value>') from vault.secrets where name = 'edgeflow_tick_key';

select cron.schedule(
  'edgeflow-tick',
  '* * * * *',
  $job$
  select net.http_post(
    url := (select decrypted_secret from vault.decrypted_secrets
             where name = 'edgeflow_functions_url') || '/trigger/tick',
    headers := jsonb_build_object(
      'Content-Type', 'application/json',
      'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets
                                      where name = 'edgeflow_tick_key')),
    body := '{}'::jsonb,
    timeout_milliseconds := 30000
  );
  $job$
);

-- What happened: the job's runs, and the tick's answers ({"created", "swept", ...}).
--   select start_time, status, return_message from cron.job_run_details
--    where jobid = (select jobid from cron.job where jobname = 'edgeflow-tick')
--    order by start_time desc limit 10;
--   select created, status_code, content from net._http_response order by created desc limit 10;
--
-- Stop ticking:
--   select cron.unschedule('edgeflow-tick');
