// Project members and their roles (migrations/0007). Callers change members only while
// holding the project's row lock (findProjects with forUpdate), so two owners removing each
// other at once cannot leave a project without an owner.
import type { Role } from "../domain/authorization.ts";
import type { Queryable } from "./database.ts";

export interface MemberRow {
  userId: string;
  name: string;
  role: Role;
  createdAt: Date;
}

const COLUMNS = `m.user_id as "userId", u.name, m.role, m.created_at as "createdAt"`;

export async function listMembers(db: Queryable, projectId: string): Promise<MemberRow[]> {
  const { rows } = await db.query(
    `select ${COLUMNS} from project_members m join users u on u.id = m.user_id where m.project_id = $1 order by m.created_at, m.user_id`,
    [projectId],
  );
  return rows as MemberRow[];
}

export async function findMember(db: Queryable, projectId: string, userId: string): Promise<MemberRow | null> {
  const { rows } = await db.query(`select ${COLUMNS} from project_members m join users u on u.id = m.user_id where m.project_id = $1 and m.user_id = $2`, [
    projectId,
    userId,
  ]);
  return (rows[0] as MemberRow | undefined) ?? null;
}

/** Adds the user, or changes their role. */
export async function setMember(tx: Queryable, projectId: string, userId: string, role: Role): Promise<void> {
  await tx.query(
    `insert into project_members (project_id, user_id, role) values ($1, $2, $3)
     on conflict (project_id, user_id) do update set role = excluded.role`,
    [projectId, userId, role],
  );
}

export async function removeMember(tx: Queryable, projectId: string, userId: string): Promise<void> {
  await tx.query("delete from project_members where project_id = $1 and user_id = $2", [projectId, userId]);
}

export async function countOwners(db: Queryable, projectId: string): Promise<number> {
  const { rows } = await db.query(`select count(*)::int as n from project_members where project_id = $1 and role = 'owner'`, [projectId]);
  return (rows[0] as { n: number }).n;
}
