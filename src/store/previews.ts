// Preview codes, sessions and share links (migrations/0009). Only sha256 hashes of the
// secrets are stored. Reads that decide access return the role the acting user (the
// session's, or the share's creator) has now, so that a membership taken away closes
// their previews and their shares at the next request.
import type { Role } from "../domain/authorization.ts";
import type { Phase } from "../domain/sandbox-lifecycle.ts";
import type { Queryable } from "./database.ts";

export interface PreviewTarget {
  sandboxId: string;
  port: number;
}

/** A sandbox as a preview host names it, with what access checks need. */
export interface PreviewSandbox {
  id: string;
  name: string;
  projectId: string;
  phase: Phase;
}

export interface ShareRow {
  id: string;
  sandboxId: string;
  port: number;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
}

/** What a valid preview cookie grants, and who vouches for it. */
export interface SessionGrant {
  sandbox: PreviewSandbox;
  /** The role of the session's user (or of the share's creator) on the project, now. */
  role: Role | null;
  userId: string;
  shareId: string | null;
}

const SHARE_COLUMNS = `id, sandbox_id as "sandboxId", port, created_by as "createdBy", created_at as "createdAt", expires_at as "expiresAt"`;

/** A live (not deleted) sandbox by its name: preview hosts carry names. */
export async function sandboxByName(db: Queryable, name: string): Promise<PreviewSandbox | null> {
  const { rows } = await db.query(`select id, name, project_id as "projectId", phase from sandboxes where name = $1 and phase <> 'deleted'`, [name]);
  return (rows[0] as PreviewSandbox | undefined) ?? null;
}

export async function insertCode(db: Queryable, code: { hash: Buffer; target: PreviewTarget; userId: string; ttlSeconds: number }): Promise<void> {
  // Expired codes are swept here, as login codes are.
  await db.query("delete from preview_codes where expires_at < now()");
  await db.query(`insert into preview_codes (code_hash, sandbox_id, port, user_id, expires_at) values ($1, $2, $3, $4, now() + make_interval(secs => $5))`, [
    code.hash,
    code.target.sandboxId,
    code.target.port,
    code.userId,
    code.ttlSeconds,
  ]);
}

/** Consumes a code (it works once) if it was minted for this sandbox and port; the user it was minted for. */
export async function takeCode(db: Queryable, hash: Buffer, target: PreviewTarget): Promise<string | null> {
  const { rows } = await db.query(
    `delete from preview_codes where code_hash = $1 and sandbox_id = $2 and port = $3 and expires_at > now() returning user_id as "userId"`,
    [hash, target.sandboxId, target.port],
  );
  return (rows[0] as { userId: string } | undefined)?.userId ?? null;
}

export async function insertSession(
  db: Queryable,
  session: { hash: Buffer; target: PreviewTarget; userId?: string; shareId?: string; expiresAt: Date },
): Promise<void> {
  await db.query("delete from preview_sessions where expires_at < now()");
  await db.query(`insert into preview_sessions (session_hash, sandbox_id, port, user_id, share_id, expires_at) values ($1, $2, $3, $4, $5, $6)`, [
    session.hash,
    session.target.sandboxId,
    session.target.port,
    session.userId ?? null,
    session.shareId ?? null,
    session.expiresAt,
  ]);
}

/**
 * The first of `hashes` that is a live session for this sandbox (by name) and port. Several
 * cookies of the same name can arrive (one per matching path or domain): each is tried.
 */
export async function sessionGrant(db: Queryable, hashes: Buffer[], sandboxName: string, port: number): Promise<SessionGrant | null> {
  if (hashes.length === 0) return null;
  const { rows } = await db.query(
    `select b.id, b.name, b.project_id as "projectId", b.phase, s.share_id as "shareId",
            coalesce(s.user_id, sh.created_by) as "userId",
            (select m.role from project_members m where m.project_id = b.project_id and m.user_id = coalesce(s.user_id, sh.created_by)) as role
       from preview_sessions s
       join sandboxes b on b.id = s.sandbox_id
       left join preview_shares sh on sh.id = s.share_id
      where s.session_hash = any($1) and s.expires_at > now() and s.port = $3
        and b.name = $2 and b.phase <> 'deleted'
        and (s.share_id is null or sh.expires_at > now())
      limit 1`,
    [hashes, sandboxName, port],
  );
  const row = rows[0] as (PreviewSandbox & { shareId: string | null; userId: string; role: Role | null }) | undefined;
  if (!row) return null;
  return { sandbox: { id: row.id, name: row.name, projectId: row.projectId, phase: row.phase }, role: row.role, userId: row.userId, shareId: row.shareId };
}

export async function insertShare(
  db: Queryable,
  share: { id: string; hash: Buffer; target: PreviewTarget; createdBy: string; ttlSeconds: number },
): Promise<ShareRow> {
  // Expired shares go, and with them (cascade) the sessions they opened.
  await db.query("delete from preview_shares where expires_at < now()");
  const { rows } = await db.query(
    `insert into preview_shares (id, sandbox_id, port, token_hash, created_by, expires_at)
     values ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) returning ${SHARE_COLUMNS}`,
    [share.id, share.target.sandboxId, share.target.port, share.hash, share.createdBy, share.ttlSeconds],
  );
  return rows[0] as ShareRow;
}

/** A share by its token, if it is for this sandbox (by name) and port and has not expired; with its creator's role now. */
export async function shareByToken(
  db: Queryable,
  hash: Buffer,
  sandboxName: string,
  port: number,
): Promise<{ share: ShareRow; sandbox: PreviewSandbox; role: Role | null } | null> {
  const { rows } = await db.query(
    `select sh.id, sh.sandbox_id as "sandboxId", sh.port, sh.created_by as "createdBy", sh.created_at as "createdAt", sh.expires_at as "expiresAt",
            b.name, b.project_id as "projectId", b.phase,
            (select m.role from project_members m where m.project_id = b.project_id and m.user_id = sh.created_by) as role
       from preview_shares sh join sandboxes b on b.id = sh.sandbox_id
      where sh.token_hash = $1 and sh.port = $3 and b.name = $2 and b.phase <> 'deleted' and sh.expires_at > now()`,
    [hash, sandboxName, port],
  );
  const row = rows[0] as (ShareRow & { name: string; projectId: string; phase: Phase; role: Role | null }) | undefined;
  if (!row) return null;
  return {
    share: { id: row.id, sandboxId: row.sandboxId, port: row.port, createdBy: row.createdBy, createdAt: row.createdAt, expiresAt: row.expiresAt },
    sandbox: { id: row.sandboxId, name: row.name, projectId: row.projectId, phase: row.phase },
    role: row.role,
  };
}

/** The shares of a sandbox's port that have not expired, newest first. */
export async function listShares(db: Queryable, target: PreviewTarget): Promise<ShareRow[]> {
  const { rows } = await db.query(
    `select ${SHARE_COLUMNS} from preview_shares where sandbox_id = $1 and port = $2 and expires_at > now() order by created_at desc, id limit 500`,
    [target.sandboxId, target.port],
  );
  return rows as ShareRow[];
}

/** Deletes a share (and, by cascade, every session it opened); false when there was none. */
export async function deleteShare(db: Queryable, target: PreviewTarget, id: string): Promise<ShareRow | null> {
  const { rows } = await db.query(`delete from preview_shares where id = $1 and sandbox_id = $2 and port = $3 returning ${SHARE_COLUMNS}`, [
    id,
    target.sandboxId,
    target.port,
  ]);
  return (rows[0] as ShareRow | undefined) ?? null;
}
