-- Control-plane state, first cut: users, API tokens, browser sessions, projects with
-- their encrypted environment, and the append-only global event log.

create table users (
  id          text primary key,
  name        text not null unique,
  is_admin    boolean not null default false,
  created_at  timestamptz not null default now()
);

create table api_tokens (
  id           text primary key,
  user_id      text not null references users(id) on delete cascade,
  name         text not null,
  token_hash   bytea not null unique,          -- sha256 of the token; the token itself is never stored
  created_at   timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);

-- One-time login codes (printed at start) and the browser sessions they open.
create table login_codes (
  code_hash   bytea primary key,
  user_id     text not null references users(id) on delete cascade,
  expires_at  timestamptz not null
);

create table sessions (
  session_hash bytea primary key,
  user_id      text not null references users(id) on delete cascade,
  created_at   timestamptz not null default now(),
  expires_at   timestamptz not null
);

create table projects (
  id              text primary key,
  seq             bigint generated always as identity unique,  -- stable order for cursors
  owner_id        text not null references users(id),
  name            text not null unique,
  repo_url        text,
  default_branch  text,
  instructions    text,
  egress          jsonb not null default '{"allow": []}',
  database        text not null default 'none' check (database in ('none', 'postgres')),
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);

create table project_env (
  project_id  text not null references projects(id) on delete cascade,
  name        text not null,
  value_enc   text not null,                  -- SecretBox: v1:<base64(iv|tag|ciphertext)>
  primary key (project_id, name)
);

-- Append-only. Ids are handed out under an advisory lock held until commit (see
-- store/events.ts), so they become visible in id order and `id > last seen` never skips one.
create table events (
  id          bigint generated always as identity primary key,
  type        text not null,
  owner_id    text not null,
  project_id  text,
  data        jsonb not null default '{}',
  created_at  timestamptz not null default now()
);
create index events_owner_id on events (owner_id, id);
create index events_project_id on events (project_id, id);
