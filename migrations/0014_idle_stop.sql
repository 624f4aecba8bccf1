-- Idle stop and wake (issue 20). A project says how long its sandboxes may sit idle before
-- they are stopped (files kept); 0 means never. The control plane tracks activity in memory
-- and writes it down here only now and then (last_active_at), so a restart neither stops a
-- sandbox that was in use just before nor keeps a long-idle one forever.
alter table projects add column idle_timeout_seconds integer not null default 1800
  check (idle_timeout_seconds between 0 and 604800);

-- idle_state: 'stopped' while the sandbox is stopped because it sat idle (a request wakes it),
-- 'waking' once a request asked it back; null otherwise (every user verb clears it: a sandbox
-- a user stopped is never woken by requests).
alter table sandboxes
  add column idle_state     text check (idle_state in ('stopped', 'waking')),
  add column last_active_at timestamptz;

-- The idle reaper asks, per running sandbox, when its agent runs last ended.
create index runs_sandbox_ended on runs (sandbox_id, ended_at);
