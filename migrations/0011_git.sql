-- Git (issue 18): per-project git settings and deploy key, the branch (and worktree) each
-- conversation works on with its pull request, and the checkpoints taken before agent turns.
-- Checkpoint objects live in a bare repository the control plane owns on the host
-- (<data dir>/checkpoints/<sandbox id>.git); the rows say which commit is which turn.

-- {identity?: {name, email}, tokenVariable?: string, knownHosts?: string, autoPush?: bool}
alter table projects add column git jsonb not null default '{}';

create table project_deploy_keys (
  project_id          text primary key references projects(id) on delete cascade,
  public_key          text not null,          -- "ssh-ed25519 AAAA… outpost-<project>"
  fingerprint         text not null,          -- "SHA256:…"
  private_key_enc     text not null,          -- PKCS#8 PEM, sealed with the secret key
  created_at          timestamptz not null default now()
);

alter table conversations
  add column branch        text,             -- outpost/<slug>, made before the first turn
  add column base_branch   text,             -- where the branch starts, and the PR's base
  add column worktree      text,             -- a worktree of its own (path inside the sandbox), or null
  add column pull_request  jsonb;            -- {number, url, state, draft, headSha, checks, updatedAt}

create table git_checkpoints (
  id               text primary key,
  seq              bigint generated always as identity unique,
  sandbox_id       text not null references sandboxes(id) on delete cascade,
  project_id       text not null references projects(id) on delete cascade,
  conversation_id  text references conversations(id) on delete set null,
  run_id           text references runs(id) on delete set null,
  commit_sha       text not null,             -- the checkpoint commit in the host repository
  head_sha         text,                      -- HEAD when it was taken (null: no commit yet)
  branch           text,                      -- the branch checked out then (null: detached)
  reason           text not null,             -- "turn" | "before-restore" | "manual"
  created_at       timestamptz not null default now()
);
create index git_checkpoints_sandbox on git_checkpoints (sandbox_id, seq);
