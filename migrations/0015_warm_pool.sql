-- Warm pool (issue 20): sandboxes started ahead per environment, neutral (no project) until a
-- create of a project of that environment claims one. A member is a running sandbox of the
-- driver with an id of its own (sbx_…); a claim deletes its row and inserts the project's
-- sandbox row under the same id, in one transaction. A row is written before its sandbox
-- is started, so a control plane killed mid-refill leaves a 'starting' row to clean up, and
-- the reconciler takes a sandbox without any row for an orphan.
create table pool_members (
  id              text primary key,                       -- the sandbox id it runs under
  environment_id  text not null references environments(id) on delete cascade,
  hostname        text not null,                          -- started with it; kept after the claim
  image_key       text not null,                          -- the environment's top layer it runs on
  state           text not null check (state in ('starting', 'ready')),
  created_at      timestamptz not null default now()
);
create index pool_members_ready on pool_members (environment_id, state, created_at);
