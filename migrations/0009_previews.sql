-- Previews (issue 16): a sandbox's port served on an origin of its own,
-- http://<port>-<sandbox>.localhost:<port>/ (or under OUTPOST_PREVIEW_DOMAIN). The UI's session
-- cookie never reaches those origins; a browser gets in through a one-time code minted on
-- the main origin and exchanged on the preview origin for a cookie of that origin alone, or
-- through a share link. As for login codes and sessions, only sha256 hashes of codes,
-- cookies and share tokens are stored: a copy of the database opens no preview.

-- A share link: anyone holding its token may open that port of that sandbox until it
-- expires or is deleted (deleting it ends the sessions it opened).
create table preview_shares (
  id          text primary key,
  sandbox_id  text not null references sandboxes(id) on delete cascade,
  port        integer not null check (port between 1 and 65535),
  token_hash  bytea not null unique,
  created_by  text not null references users(id) on delete cascade,
  created_at  timestamptz not null default now(),
  expires_at  timestamptz not null
);
create index preview_shares_sandbox on preview_shares (sandbox_id, port);

-- One-time codes from GET /api/v1/sandboxes/{id}/previews/{port}/open, short-lived.
create table preview_codes (
  code_hash   bytea primary key,
  sandbox_id  text not null references sandboxes(id) on delete cascade,
  port        integer not null check (port between 1 and 65535),
  user_id     text not null references users(id) on delete cascade,
  expires_at  timestamptz not null
);

-- A browser's preview cookie: bound to one sandbox and port, opened by a user (who must
-- still be allowed previews there at every request) or by a share link (which must still
-- exist and not have expired; its creator must still be allowed previews too).
create table preview_sessions (
  session_hash bytea primary key,
  sandbox_id   text not null references sandboxes(id) on delete cascade,
  port         integer not null check (port between 1 and 65535),
  user_id      text references users(id) on delete cascade,
  share_id     text references preview_shares(id) on delete cascade,
  created_at   timestamptz not null default now(),
  expires_at   timestamptz not null,
  check ((user_id is null) <> (share_id is null))
);
create index preview_sessions_expiry on preview_sessions (expires_at);
