-- The sandbox's way out (issue 15): egress policy levels, three kinds of project variables,
-- the record of every egress decision, and model usage metered by the gateway.

-- Egress policy: { level, allow: [{host, port?}], deny: [...] } (src/domain/egress-policy.ts).
-- Projects made before this had only an allow list of hostnames; they get the default level
-- ('registries') with their hosts kept as allow rules.
alter table projects alter column egress set default '{"level": "registries", "allow": [], "deny": []}';
update projects set egress = jsonb_build_object(
  'level', 'registries',
  'allow', coalesce((select jsonb_agg(jsonb_build_object('host', h)) from jsonb_array_elements_text(egress -> 'allow') as h), '[]'::jsonb),
  'deny', '[]'::jsonb)
where not (egress ? 'level');

-- A monthly model-token budget (null: none), enforced by the gateway.
alter table projects add column token_budget bigint check (token_budget is null or token_budget >= 0);

-- project_env holds every variable now; `kind` says how it reaches the sandbox:
--   env: as it is; secret: as it is, redacted from what the control plane streams and stores;
--   credential: never; the sandbox sees `placeholder`, the proxy swaps the value in on
--   requests to the hosts in `inject` ([{host, header, format}]).
alter table project_env add column kind text not null default 'env' check (kind in ('env', 'secret', 'credential'));
alter table project_env add column placeholder text;
alter table project_env add column inject jsonb not null default '[]';
alter table project_env add column updated_at timestamptz not null default now();
alter table project_env add constraint project_env_credential_placeholder check ((kind = 'credential') = (placeholder is not null));

-- One row per connection a sandbox asked the proxy for (allowed or not). Kept 30 days.
create table egress_log (
  id          bigint generated always as identity primary key,
  project_id  text not null references projects(id) on delete cascade,
  sandbox_id  text not null,
  host        text not null,
  port        integer not null,
  method      text not null,                  -- CONNECT, or the plain-HTTP method
  allowed     boolean not null,
  rule        text not null,
  reason      text,
  address     text,                           -- the address dialled
  bytes_up    bigint not null default 0,
  bytes_down  bigint not null default 0,
  started_at  timestamptz not null,
  duration_ms integer not null default 0
);
create index egress_log_project on egress_log (project_id, id);
create index egress_log_started on egress_log (started_at);

-- Tokens per model call through the gateway, measured from the provider's answer.
create table model_usage (
  id                  bigint generated always as identity primary key,
  project_id          text not null references projects(id) on delete cascade,
  sandbox_id          text not null,
  provider            text not null,
  model               text,
  input_tokens        bigint not null default 0,
  output_tokens       bigint not null default 0,
  cache_read_tokens   bigint not null default 0,
  cache_write_tokens  bigint not null default 0,
  created_at          timestamptz not null default now()
);
create index model_usage_project on model_usage (project_id, created_at);
