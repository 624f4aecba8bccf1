-- The reconciler, ready for several control-plane replicas and for errors that retry:
--   lease_owner / lease_until  the replica acting on the sandbox now; another replica
--                              waits until the lease is released or expires. Every write
--                              of observed state is fenced by generation AND lease owner.
--   acted_generation           the generation whose action last finished (a failure at
--                              that generation is not retried until the user asks again,
--                              unless it is retryable and its next attempt is due).
--   attempts / next_attempt_at retryable failures back off (jittered, capped); the API
--                              shows when the next attempt is.
alter table sandboxes
  add column lease_owner text,
  add column lease_until timestamptz,
  add column acted_generation bigint not null default 0,
  add column attempts integer not null default 0,
  add column next_attempt_at timestamptz;
