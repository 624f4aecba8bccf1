-- Sandboxes: desired state written by users, phase and stages written by the reconciler.
-- `generation` grows with every change of intent; the reconciler writes its results only
-- while the generation it acted on is still current, so a stale action never overwrites
-- newer intent.

create table sandboxes (
  id              text primary key,
  seq             bigint generated always as identity unique,
  project_id      text not null references projects(id),   -- a project with sandboxes cannot be deleted
  owner_id        text not null references users(id),
  name            text not null unique,
  is_primary      boolean not null default false,
  driver          text not null,
  desired         text not null check (desired in ('running', 'stopped', 'deleted')),
  generation      bigint not null default 1,
  phase           text not null check (phase in ('pending', 'provisioning', 'running', 'stopping', 'stopped', 'deleting', 'deleted', 'failed')),
  stages          jsonb not null default '[]',
  error           jsonb,
  keep_workspace  boolean not null default false,
  host_uid        integer unique,                           -- local driver as root: this sandbox's own host uid
  restart_requested boolean not null default false,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);
create index sandboxes_project on sandboxes (project_id) where phase <> 'deleted';
create index sandboxes_unsettled on sandboxes (id) where phase <> 'deleted';
