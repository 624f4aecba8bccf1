-- Per-project PostgreSQL databases (issue 19). A database outlives its sandboxes, and even
-- its project when the owner keeps it (project_id set null, project_name kept for people).
-- Branches are databases with a parent (a copy made for a conversation). The password is
-- sealed with the secret key; it reaches the sandbox as DATABASE_URL / PGPASSWORD.
create table databases (
  id               text primary key,                        -- db_…
  seq              bigint generated always as identity unique,
  project_id       text references projects(id) on delete set null,
  project_name     text not null,
  owner_id         text not null references users(id),
  provisioner      text not null,                            -- managed | server
  name             text not null,                            -- the database's name on its server
  role             text not null,                            -- its owner role, the sandbox's login
  password_enc     text not null,
  parent_id        text references databases(id) on delete set null,
  conversation_id  text references conversations(id) on delete set null,
  status           text not null default 'pending',          -- pending | ready | missing | failed | dropped
  error            text,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now()
);
-- One main database per project (branches have a parent); names unique per server.
create unique index databases_main_of_project on databases (project_id) where parent_id is null and status <> 'dropped';
create unique index databases_name_on_provisioner on databases (provisioner, name) where status <> 'dropped';
