-- Projects get members with roles (src/domain/authorization.ts says what each role may do).
-- Every query that finds a project, or something in it, goes through this table instead
-- of projects.owner_id; owner_id stays as the user who created the project, and names are
-- unique per creator only (two people may each have a project called "shop"). Sandbox names
-- stay globally unique: they are hostnames, Kubernetes object names and preview hosts.
create table project_members (
  project_id  text not null references projects(id) on delete cascade,
  user_id     text not null references users(id) on delete cascade,
  role        text not null check (role in ('owner', 'editor', 'viewer')),
  created_at  timestamptz not null default now(),
  primary key (project_id, user_id)
);
-- "Which projects may this user see": every list and lookup starts here.
create index project_members_user on project_members (user_id, project_id);

insert into project_members (project_id, user_id, role, created_at)
  select id, owner_id, 'owner', created_at from projects;

alter table projects drop constraint projects_name_key;
alter table projects add constraint projects_owner_name_key unique (owner_id, name);

-- A stable order for the users list's cursor (existing rows are numbered as they are added).
alter table users add column seq bigint generated always as identity unique;

-- events.owner_id now names the user who acted (the reconciler: the sandbox's creator); a
-- user reads the events of the projects they are a member of, and those of their own acts.
