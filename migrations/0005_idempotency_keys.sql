-- Idempotency-Key on creates: a client whose create request dropped (control plane killed,
-- network cut) sends it again with the same key and gets the same resource, not a second
-- one. The key is claimed in the transaction that creates the resource, so either both
-- exist or neither. Keys are kept 24 hours.
create table idempotency_keys (
  owner_id      text not null references users(id) on delete cascade,
  key           text not null,
  scope         text not null,          -- what the key created, e.g. 'project.create'
  request_hash  bytea not null,         -- sha256 of scope, target and body: a different request with the same key is refused
  resource_id   text not null,
  created_at    timestamptz not null default now(),
  primary key (owner_id, key)
);
create index idempotency_keys_created_at on idempotency_keys (created_at);
