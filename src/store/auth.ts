// Users, API tokens, login codes and browser sessions. Only sha256 hashes of tokens,
// codes and session ids are stored: a copy of the database lets nobody in.
import type { Queryable } from "./database.ts";

export interface UserRow {
  id: string;
  name: string;
  isAdmin: boolean;
}

export async function findUserByName(db: Queryable, name: string): Promise<UserRow | null> {
  const { rows } = await db.query(`select id, name, is_admin as "isAdmin" from users where name = $1`, [name]);
  return (rows[0] as UserRow | undefined) ?? null;
}

export async function insertUser(db: Queryable, user: UserRow): Promise<UserRow> {
  await db.query("insert into users (id, name, is_admin) values ($1, $2, $3) on conflict (name) do nothing", [user.id, user.name, user.isAdmin]);
  return (await findUserByName(db, user.name)) as UserRow;
}

/** A user as the admin API shows it. */
export interface UserRecord extends UserRow {
  seq: number;
  createdAt: Date;
}

const USER_COLUMNS = `id, seq, name, is_admin as "isAdmin", created_at as "createdAt"`;

/** A new user; null when the name is taken. */
export async function createUser(db: Queryable, user: { id: string; name: string }): Promise<UserRecord | null> {
  const { rows } = await db.query(`insert into users (id, name) values ($1, $2) on conflict (name) do nothing returning ${USER_COLUMNS}`, [user.id, user.name]);
  return (rows[0] as UserRecord | undefined) ?? null;
}

/** By id or by name (both unique). */
export async function findUser(db: Queryable, ref: string): Promise<UserRecord | null> {
  const { rows } = await db.query(`select ${USER_COLUMNS} from users where id = $1 or name = $1`, [ref]);
  return (rows[0] as UserRecord | undefined) ?? null;
}

export async function listUsers(db: Queryable, afterSeq: number, limit: number): Promise<UserRecord[]> {
  const { rows } = await db.query(`select ${USER_COLUMNS} from users where seq > $1 order by seq limit $2`, [afterSeq, limit]);
  return rows as UserRecord[];
}

export async function insertToken(db: Queryable, token: { id: string; userId: string; name: string; hash: Buffer }): Promise<void> {
  await db.query("insert into api_tokens (id, user_id, name, token_hash) values ($1, $2, $3, $4) on conflict (token_hash) do nothing", [
    token.id,
    token.userId,
    token.name,
    token.hash,
  ]);
}

export async function userForToken(db: Queryable, hash: Buffer): Promise<UserRow | null> {
  const { rows } = await db.query(
    `update api_tokens t set last_used_at = now() from users u
      where t.token_hash = $1 and t.revoked_at is null and u.id = t.user_id
      returning u.id, u.name, u.is_admin as "isAdmin"`,
    [hash],
  );
  return (rows[0] as UserRow | undefined) ?? null;
}

export async function revokeTokensNamed(db: Queryable, userId: string, name: string): Promise<void> {
  await db.query("update api_tokens set revoked_at = now() where user_id = $1 and name = $2 and revoked_at is null", [userId, name]);
}

export async function insertLoginCode(db: Queryable, hash: Buffer, userId: string, ttlSeconds: number): Promise<void> {
  await db.query("delete from login_codes where expires_at < now()");
  await db.query(`insert into login_codes (code_hash, user_id, expires_at) values ($1, $2, now() + make_interval(secs => $3))`, [hash, userId, ttlSeconds]);
}

/** Consumes a login code: it works once. */
export async function takeLoginCode(db: Queryable, hash: Buffer): Promise<string | null> {
  const { rows } = await db.query(`delete from login_codes where code_hash = $1 and expires_at > now() returning user_id as "userId"`, [hash]);
  return (rows[0] as { userId: string } | undefined)?.userId ?? null;
}

export async function insertSession(db: Queryable, hash: Buffer, userId: string, ttlSeconds: number): Promise<void> {
  await db.query(`insert into sessions (session_hash, user_id, expires_at) values ($1, $2, now() + make_interval(secs => $3))`, [hash, userId, ttlSeconds]);
}

export async function userForSession(db: Queryable, hash: Buffer): Promise<UserRow | null> {
  const { rows } = await db.query(
    `select u.id, u.name, u.is_admin as "isAdmin" from sessions s join users u on u.id = s.user_id
      where s.session_hash = $1 and s.expires_at > now()`,
    [hash],
  );
  return (rows[0] as UserRow | undefined) ?? null;
}
