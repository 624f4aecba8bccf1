// Project databases (migrations/0012): one row per database Outpost made on a provisioner's
// server, a project's main one or a branch of it. The row is what Outpost meant to make; the
// server says what is really there (services/databases asks before trusting a row). The
// password is sealed (crypto/secrets.ts, context `database:<id>`).
import type { Queryable } from "./database.ts";

export type DatabaseStatus = "pending" | "ready" | "missing" | "failed" | "dropped";

export interface DatabaseRow {
  id: string;
  seq: number;
  /** Null once its project is deleted and the database kept. */
  projectId: string | null;
  /** The project's name when the database was made (or attached), for people. */
  projectName: string;
  ownerId: string;
  provisioner: string;
  name: string;
  role: string;
  passwordEnc: string;
  parentId: string | null;
  conversationId: string | null;
  status: DatabaseStatus;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export type NewDatabase = Pick<DatabaseRow, "id" | "projectId" | "projectName" | "ownerId" | "provisioner" | "name" | "role" | "passwordEnc"> &
  Partial<Pick<DatabaseRow, "parentId" | "conversationId" | "status">>;

export const DATABASE_COLUMNS = `id, seq, project_id as "projectId", project_name as "projectName", owner_id as "ownerId", provisioner, name, role,
  password_enc as "passwordEnc", parent_id as "parentId", conversation_id as "conversationId", status, error,
  created_at as "createdAt", updated_at as "updatedAt"`;

/**
 * Inserts a row; null when a live row already holds the project's main slot or the name
 * (two starts racing: the caller reads the winner's row).
 */
export async function insertDatabase(db: Queryable, row: NewDatabase): Promise<DatabaseRow | null> {
  const { rows } = await db.query(
    `insert into databases (id, project_id, project_name, owner_id, provisioner, name, role, password_enc, parent_id, conversation_id, status)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     on conflict do nothing
     returning ${DATABASE_COLUMNS}`,
    [
      row.id,
      row.projectId,
      row.projectName,
      row.ownerId,
      row.provisioner,
      row.name,
      row.role,
      row.passwordEnc,
      row.parentId ?? null,
      row.conversationId ?? null,
      row.status ?? "pending",
    ],
  );
  return (rows[0] as DatabaseRow | undefined) ?? null;
}

/** The project's main database (not a branch), unless dropped. */
export async function findMainDatabase(db: Queryable, projectId: string, forUpdate = false): Promise<DatabaseRow | null> {
  const { rows } = await db.query(
    `select ${DATABASE_COLUMNS} from databases where project_id = $1 and parent_id is null and status <> 'dropped'${forUpdate ? " for update" : ""}`,
    [projectId],
  );
  return (rows[0] as DatabaseRow | undefined) ?? null;
}

export async function findDatabaseById(db: Queryable, id: string, forUpdate = false): Promise<DatabaseRow | null> {
  const { rows } = await db.query(`select ${DATABASE_COLUMNS} from databases where id = $1${forUpdate ? " for update" : ""}`, [id]);
  return (rows[0] as DatabaseRow | undefined) ?? null;
}

/** Every live database of a project, branches first (they are dropped before their parent). */
export async function listProjectDatabases(db: Queryable, projectId: string, forUpdate = false): Promise<DatabaseRow[]> {
  const { rows } = await db.query(
    `select ${DATABASE_COLUMNS} from databases where project_id = $1 and status <> 'dropped'
      order by (parent_id is null), seq${forUpdate ? " for update" : ""}`,
    [projectId],
  );
  return rows as DatabaseRow[];
}

/**
 * The main database a sandbox of the project connects to: only while the project wants one
 * (its `database` setting) and the row is one a server holds or held (ready, or missing:
 * the sandbox is told, and the server refuses).
 */
export async function findSandboxDatabase(db: Queryable, projectId: string): Promise<DatabaseRow | null> {
  const { rows } = await db.query(
    `select ${DATABASE_COLUMNS} from databases
      where project_id = $1 and parent_id is null and status in ('ready', 'missing')
        and exists (select 1 from projects p where p.id = $1 and p.database = 'postgres')`,
    [projectId],
  );
  return (rows[0] as DatabaseRow | undefined) ?? null;
}

export async function setDatabaseStatus(db: Queryable, id: string, status: DatabaseStatus, error: string | null = null): Promise<DatabaseRow> {
  const { rows } = await db.query(`update databases set status = $2, error = $3, updated_at = now() where id = $1 returning ${DATABASE_COLUMNS}`, [
    id,
    status,
    error,
  ]);
  return rows[0] as DatabaseRow;
}

export async function setDatabasePassword(db: Queryable, id: string, passwordEnc: string): Promise<void> {
  await db.query("update databases set password_enc = $2, updated_at = now() where id = $1", [id, passwordEnc]);
}

/** Databases whose project is gone (kept on its delete), oldest first, after `afterSeq`. */
export async function listKeptDatabases(db: Queryable, afterSeq: number, limit: number): Promise<DatabaseRow[]> {
  const { rows } = await db.query(
    `select ${DATABASE_COLUMNS} from databases where project_id is null and status <> 'dropped' and seq > $1 order by seq limit $2`,
    [afterSeq, limit],
  );
  return rows as DatabaseRow[];
}

/** Makes a kept database the project's main one (a branch kept alone stops being one). */
export async function attachDatabase(db: Queryable, id: string, project: { id: string; name: string }): Promise<DatabaseRow> {
  const { rows } = await db.query(
    `update databases set project_id = $2, project_name = $3, parent_id = null, conversation_id = null, updated_at = now()
      where id = $1 returning ${DATABASE_COLUMNS}`,
    [id, project.id, project.name],
  );
  return rows[0] as DatabaseRow;
}

/**
 * A branch becomes its project's main database (services/databases/branches.ts): every other
 * live database of the project, the old main included, becomes a branch of it. The old main
 * is dropped afterwards; until then it shows as a branch, so a crash in between leaves
 * nothing unseen.
 */
export async function promoteBranch(db: Queryable, projectId: string, branchId: string): Promise<DatabaseRow> {
  // In this order: the old main stops being one before the branch takes its place (one main per project).
  await db.query("update databases set parent_id = $2, updated_at = now() where project_id = $1 and status <> 'dropped' and id <> $2", [projectId, branchId]);
  const { rows } = await db.query(
    `update databases set parent_id = null, conversation_id = null, updated_at = now() where id = $1 returning ${DATABASE_COLUMNS}`,
    [branchId],
  );
  return rows[0] as DatabaseRow;
}

/** The newest ready branch made for a conversation: its turns work on that copy. */
export async function findConversationBranch(db: Queryable, conversationId: string): Promise<DatabaseRow | null> {
  const { rows } = await db.query(
    `select ${DATABASE_COLUMNS} from databases
      where conversation_id = $1 and parent_id is not null and status = 'ready'
      order by seq desc limit 1`,
    [conversationId],
  );
  return (rows[0] as DatabaseRow | undefined) ?? null;
}
