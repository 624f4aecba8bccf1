// Projects and their encrypted environment. Lookups return the caller's role on each
// project (project_members, migrations/0007) for src/domain/authorization.ts to decide on;
// lists show only the projects the caller is a member of.
import type { Role } from "../domain/authorization.ts";
import { OutpostError } from "../domain/errors.ts";
import type { Queryable } from "./database.ts";

export interface ProjectRow {
  id: string;
  seq: number;
  ownerId: string;
  name: string;
  repoUrl: string | null;
  defaultBranch: string | null;
  instructions: string | null;
  egress: { allow: string[] };
  database: "none" | "postgres";
  createdAt: Date;
  updatedAt: Date;
}

/** A project as one user sees it: with their role there (null: none). */
export type VisibleProject = ProjectRow & { role: Role | null };

export interface EnvRow {
  name: string;
  valueEnc: string;
}

const COLUMNS = `id, seq, owner_id as "ownerId", name, repo_url as "repoUrl", default_branch as "defaultBranch",
  instructions, egress, database, created_at as "createdAt", updated_at as "updatedAt"`;
const P_COLUMNS = `p.id, p.seq, p.owner_id as "ownerId", p.name, p.repo_url as "repoUrl", p.default_branch as "defaultBranch",
  p.instructions, p.egress, p.database, p.created_at as "createdAt", p.updated_at as "updatedAt", m.role`;

export type ProjectFields = Pick<ProjectRow, "repoUrl" | "defaultBranch" | "instructions" | "egress" | "database">;

export async function insertProject(tx: Queryable, project: { id: string; ownerId: string; name: string } & ProjectFields): Promise<ProjectRow> {
  try {
    const { rows } = await tx.query(
      `insert into projects (id, owner_id, name, repo_url, default_branch, instructions, egress, database)
       values ($1, $2, $3, $4, $5, $6, $7, $8) returning ${COLUMNS}`,
      [
        project.id,
        project.ownerId,
        project.name,
        project.repoUrl,
        project.defaultBranch,
        project.instructions,
        JSON.stringify(project.egress),
        project.database,
      ],
    );
    return rows[0] as ProjectRow;
  } catch (error) {
    if ((error as { code?: string; constraint?: string }).code === "23505") {
      throw new OutpostError("PROJECT_NAME_TAKEN", `You already have a project named '${project.name}'.`, { details: { name: project.name } });
    }
    throw error;
  }
}

/**
 * The project with this id (whoever's it is: the caller's role says whether they may see
 * it), or the projects with this name that `userId` is a member of: names are unique per
 * creator only, so a name may match several. `forUpdate` locks the rows for the transaction.
 */
export async function findProjects(db: Queryable, userId: string, ref: string, forUpdate = false): Promise<VisibleProject[]> {
  const { rows } = await db.query(
    `select ${P_COLUMNS} from projects p left join project_members m on m.project_id = p.id and m.user_id = $1
      where p.id = $2 or (p.name = $2 and m.role is not null)
      order by p.seq${forUpdate ? " for update of p" : ""}`,
    [userId, ref],
  );
  return rows as VisibleProject[];
}

/** The projects `userId` is a member of, in creation order. */
export async function listProjects(db: Queryable, userId: string, afterSeq: number, limit: number): Promise<VisibleProject[]> {
  const { rows } = await db.query(
    `select ${P_COLUMNS} from projects p join project_members m on m.project_id = p.id and m.user_id = $1
      where p.seq > $2 order by p.seq limit $3`,
    [userId, afterSeq, limit],
  );
  return rows as VisibleProject[];
}

export async function updateProject(tx: Queryable, id: string, fields: Partial<ProjectFields>): Promise<ProjectRow> {
  const columns: Record<keyof ProjectFields, string> = {
    repoUrl: "repo_url",
    defaultBranch: "default_branch",
    instructions: "instructions",
    egress: "egress",
    database: "database",
  };
  const sets: string[] = ["updated_at = now()"];
  const values: unknown[] = [id];
  for (const [key, column] of Object.entries(columns) as [keyof ProjectFields, string][]) {
    if (!(key in fields)) continue;
    const value = fields[key];
    values.push(key === "egress" ? JSON.stringify(value) : value);
    sets.push(`${column} = $${values.length}`);
  }
  const { rows } = await tx.query(`update projects set ${sets.join(", ")} where id = $1 returning ${COLUMNS}`, values);
  return rows[0] as ProjectRow;
}

export async function deleteProject(tx: Queryable, id: string): Promise<void> {
  await tx.query("delete from projects where id = $1", [id]);
}

export async function listEnv(db: Queryable, projectId: string): Promise<EnvRow[]> {
  const { rows } = await db.query(`select name, value_enc as "valueEnc" from project_env where project_id = $1 order by name`, [projectId]);
  return rows as EnvRow[];
}

export async function setEnv(tx: Queryable, projectId: string, name: string, valueEnc: string): Promise<void> {
  await tx.query(
    `insert into project_env (project_id, name, value_enc) values ($1, $2, $3)
     on conflict (project_id, name) do update set value_enc = excluded.value_enc`,
    [projectId, name, valueEnc],
  );
}

export async function deleteEnv(tx: Queryable, projectId: string, name: string): Promise<void> {
  await tx.query("delete from project_env where project_id = $1 and name = $2", [projectId, name]);
}
