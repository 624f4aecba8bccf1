-- Agent runs (issue 17): conversations with an agent in a sandbox, one run per turn, and the
-- normalized events of each run. The store is the truth for what users see; the agent's raw
-- output stays in the sandbox's journal, and each event keeps the journal record it came
-- from (journal_seq), written in the same transaction as the run's ingest cursor, so a
-- replay after a kill -9 never stores an event twice.

-- Per-project agent settings: permission mode, approval rules, run limits (domain/agent-settings.ts).
alter table projects add column agent jsonb not null default '{}';

create table conversations (
  id           text primary key,
  seq          bigint generated always as identity unique,
  project_id   text not null references projects(id) on delete cascade,
  sandbox_id   text not null references sandboxes(id) on delete cascade,
  created_by   text not null references users(id),
  agent        text not null,
  model        text,
  command      text,                          -- the `custom` agent's command line
  title        text not null,
  session_id   text,                          -- the agent's own session, for follow-ups
  event_seq    bigint not null default 0,     -- the last conversation-wide event number
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now()
);
create index conversations_sandbox on conversations (sandbox_id, seq);
create index conversations_project on conversations (project_id, seq);

create table runs (
  id               text primary key,
  seq              bigint generated always as identity unique,
  conversation_id  text not null references conversations(id) on delete cascade,
  project_id       text not null references projects(id) on delete cascade,
  sandbox_id       text not null references sandboxes(id) on delete cascade,
  created_by       text not null references users(id),
  agent            text not null,
  model            text,
  prompt           text not null,
  status           text not null check (status in ('queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled')),
  reason           text,
  process_id       text,                      -- the supervisor's background process
  journal_seq      bigint not null default 0, -- the last journal record turned into events
  event_seq        bigint not null default 0, -- the last event number of this run
  usage            jsonb,
  limits           jsonb not null,
  cancel_reason    text,                      -- set when a cancel (or the watchdog) asked the run to end
  cancel_status    text check (cancel_status in ('cancelled', 'failed')),  -- how such a run ends
  outcome          text check (outcome in ('succeeded', 'failed')),        -- what the agent said of its turn
  last_output_at   timestamptz,
  created_at       timestamptz not null default now(),
  started_at       timestamptz,
  ended_at         timestamptz
);
create index runs_conversation on runs (conversation_id, seq);
create index runs_project on runs (project_id, seq);
create index runs_active on runs (status) where status in ('queued', 'running', 'waiting');

create table run_events (
  conversation_id   text not null references conversations(id) on delete cascade,
  conversation_seq  bigint not null,
  run_id            text not null references runs(id) on delete cascade,
  run_seq           bigint not null,
  type              text not null,
  data              jsonb not null,
  journal_seq       bigint,                   -- null: the control plane's own (status, errors)
  created_at        timestamptz not null default now(),
  primary key (conversation_id, conversation_seq),
  unique (run_id, run_seq)
);

create table run_approvals (
  id            text primary key,
  run_id        text not null references runs(id) on delete cascade,
  request_id    text not null,                -- the agent's own id for the question
  tool          text not null,
  input         jsonb,
  tool_call_id  text,
  decision      text not null default 'pending' check (decision in ('pending', 'allow', 'deny')),
  message       text,
  decided_by    text references users(id),
  decided_at    timestamptz,
  answered      boolean not null default false, -- the decision reached the agent's stdin
  created_at    timestamptz not null default now(),
  unique (run_id, request_id)
);
