// Projects and their encrypted environment. Every query is scoped by owner: a project that
// is not yours is indistinguishable from one that does not exist.
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

export interface EnvRow {
  name: string;
  valueEnc: string;
}

const COLUMNS = `id, seq, owner_id as "ownerId", name, repo_url as "repoUrl", default_branch as "defaultBranch",
  instructions, egress, database, created_at as "createdAt", updated_at as "updatedAt"`;

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
      throw new OutpostError("PROJECT_NAME_TAKEN", `A project named '${project.name}' already exists.`, { details: { name: project.name } });
    }
    throw error;
  }
}

/** By id or by name, for this owner only; `forUpdate` locks the row for the transaction. */
export async function findProject(db: Queryable, ownerId: string, ref: string, forUpdate = false): Promise<ProjectRow | null> {
  const { rows } = await db.query(`select ${COLUMNS} from projects where owner_id = $1 and (id = $2 or name = $2)${forUpdate ? " for update" : ""}`, [
    ownerId,
    ref,
  ]);
  return (rows[0] as ProjectRow | undefined) ?? null;
}

export async function listProjects(db: Queryable, ownerId: string, afterSeq: number, limit: number): Promise<ProjectRow[]> {
  const { rows } = await db.query(`select ${COLUMNS} from projects where owner_id = $1 and seq > $2 order by seq limit $3`, [ownerId, afterSeq, limit]);
  return rows as ProjectRow[];
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
