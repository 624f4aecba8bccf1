-- Environments (issue 20): a base image plus a setup script, shared by the projects that name
-- it. Installation-wide: anyone may use one; its creator (or an admin) changes it. A build
-- makes the image's root filesystem and runs the setup script once; its result is cached on
-- disk under a key (image + script + setup env), so a build row records which key it made.
create table environments (
  id            text primary key,                      -- env_…
  seq           bigint generated always as identity unique,
  name          text not null unique,
  owner_id      text not null references users(id),
  image         text not null default 'host',          -- domain/environments.ts parseImageRef
  setup         text,
  maintenance   text,
  setup_env     jsonb not null default '{}',
  setup_egress  jsonb not null,                        -- an EgressPolicy for the setup phase
  pool_size     integer not null default 0 check (pool_size between 0 and 16),
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);

create table environment_builds (
  id              text primary key,                    -- bld_…
  seq             bigint generated always as identity unique,
  environment_id  text not null references environments(id) on delete cascade,
  key             text not null,                       -- the setup cache key it makes
  state           text not null check (state in ('building', 'ready', 'failed')),
  cached          boolean not null default false,      -- the result was already on disk
  layers          jsonb not null default '[]',         -- the folders it made, bottom first (a later failed build falls back to them)
  log             text not null default '',            -- its tail (domain/environments.ts MAX_BUILD_LOG_CHARS)
  error           text,
  started_at      timestamptz not null default now(),
  finished_at     timestamptz
);
create index environment_builds_latest on environment_builds (environment_id, seq desc);

alter table projects add column environment_id text references environments(id) on delete restrict;
