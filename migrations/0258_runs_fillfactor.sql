-- runs_fillfactor: room on each page of edgeflow.runs for its count-down updates to be HOT
-- (see sql/schema/50_runs.sql). Pages written from now on keep 30 % free; existing pages fill
-- as before until they are rewritten.
alter table edgeflow.runs set (fillfactor = 70);
