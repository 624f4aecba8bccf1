-- Driver-private state (the local driver's host uid, later a pod name) lives in one jsonb
-- column the driver's handle fills, not in shared columns: the control plane only shows it.
-- The local driver keeps its own authoritative copy on disk (spec.json, uid claims).
alter table sandboxes add column driver_state jsonb not null default '{}';
update sandboxes set driver_state = jsonb_build_object('hostUid', host_uid) where host_uid is not null;
alter table sandboxes drop column host_uid;
