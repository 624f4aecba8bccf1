// Projects and their encrypted environment. Lookups return the caller's role on each
// project (project_members, migrations/0007) for src/domain/authorization.ts to decide on;
// lists show only the projects the caller is a member of.

import type { AgentSettings } from "../domain/agents/settings.ts";
import type { Role } from "../domain/authorization.ts";
import type { InjectRule } from "../domain/credentials.ts";
import type { EgressPolicy } from "../domain/egress-policy.ts";
import { OutpostError } from "../domain/errors.ts";
import type { GitSettings } from "../domain/git/settings.ts";
import { DEFAULT_IDLE_TIMEOUT_SECONDS } from "../domain/idle.ts";
import type { Queryable } from "./database.ts";

export interface ProjectRow {
  id: string;
  seq: number;
  ownerId: string;
  name: string;
  repoUrl: string | null;
  defaultBranch: string | null;
  instructions: string | null;
  egress: EgressPolicy;
  database: "none" | "postgres";
  /** Monthly model tokens the gateway lets through (null: no budget). */
  tokenBudget: number | null;
  /** Agent settings as stored (domain/agents/settings.ts fills in the defaults). */
  agent: Partial<AgentSettings>;
  /** Git settings as stored (domain/git/settings.ts fills in the defaults). */
  git: Partial<GitSettings>;
  /** Its sandboxes are stopped after this long idle (0: never; migrations/0014). */
  idleTimeoutSeconds: number;
  /** The environment its sandboxes start from (migrations/0013); null: the host's /usr. */
  environmentId: string | null;
  /** That environment's name, for people. */
  environment: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A project as one user sees it: with their role there (null: none). */
export type VisibleProject = ProjectRow & { role: Role | null };

export type VariableKind = "env" | "secret" | "credential";

export interface EnvRow {
  name: string;
  valueEnc: string;
  kind: VariableKind;
  /** Credentials only: what the sandbox sees instead of the value. */
  placeholder: string | null;
  inject: InjectRule[];
  updatedAt: Date;
}

const COLUMNS = `id, seq, owner_id as "ownerId", name, repo_url as "repoUrl", default_branch as "defaultBranch",
  instructions, egress, database, token_budget::float8 as "tokenBudget", agent, git, idle_timeout_seconds as "idleTimeoutSeconds",
  environment_id as "environmentId", (select e.name from environments e where e.id = environment_id) as "environment",
  created_at as "createdAt", updated_at as "updatedAt"`;
const P_COLUMNS = `p.id, p.seq, p.owner_id as "ownerId", p.name, p.repo_url as "repoUrl", p.default_branch as "defaultBranch",
  p.instructions, p.egress, p.database, p.token_budget::float8 as "tokenBudget", p.agent, p.git, p.idle_timeout_seconds as "idleTimeoutSeconds",
  p.environment_id as "environmentId", (select e.name from environments e where e.id = p.environment_id) as "environment",
  p.created_at as "createdAt", p.updated_at as "updatedAt", m.role`;

export type ProjectFields = Pick<ProjectRow, "repoUrl" | "defaultBranch" | "instructions" | "egress" | "database" | "tokenBudget"> & {
  agent?: Partial<AgentSettings>;
  git?: Partial<GitSettings>;
  idleTimeoutSeconds?: number;
  environmentId?: string | null;
};

export async function insertProject(tx: Queryable, project: { id: string; ownerId: string; name: string } & ProjectFields): Promise<ProjectRow> {
  try {
    const { rows } = await tx.query(
      `insert into projects (id, owner_id, name, repo_url, default_branch, instructions, egress, database, token_budget, agent, idle_timeout_seconds, environment_id)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce($11, ${DEFAULT_IDLE_TIMEOUT_SECONDS}), $12) returning ${COLUMNS}`,
      [
        project.id,
        project.ownerId,
        project.name,
        project.repoUrl,
        project.defaultBranch,
        project.instructions,
        JSON.stringify(project.egress),
        project.database,
        project.tokenBudget,
        JSON.stringify(project.agent ?? {}),
        project.idleTimeoutSeconds ?? null,
        project.environmentId ?? null,
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

/** The project with this id, whoever may see it (for the control plane's own work). */
export async function findProjectById(db: Queryable, id: string): Promise<ProjectRow | null> {
  const { rows } = await db.query(`select ${COLUMNS} from projects where id = $1`, [id]);
  return (rows[0] as ProjectRow | undefined) ?? null;
}

export async function updateProject(tx: Queryable, id: string, fields: Partial<ProjectFields>): Promise<ProjectRow> {
  const columns: Record<keyof ProjectFields, string> = {
    repoUrl: "repo_url",
    defaultBranch: "default_branch",
    instructions: "instructions",
    egress: "egress",
    database: "database",
    tokenBudget: "token_budget",
    agent: "agent",
    git: "git",
    idleTimeoutSeconds: "idle_timeout_seconds",
    environmentId: "environment_id",
  };
  const sets: string[] = ["updated_at = now()"];
  const values: unknown[] = [id];
  for (const [key, column] of Object.entries(columns) as [keyof ProjectFields, string][]) {
    if (!(key in fields)) continue;
    const value = fields[key];
    values.push(key === "egress" || key === "agent" || key === "git" ? JSON.stringify(value) : value);
    sets.push(`${column} = $${values.length}`);
  }
  const { rows } = await tx.query(`update projects set ${sets.join(", ")} where id = $1 returning ${COLUMNS}`, values);
  return rows[0] as ProjectRow;
}

export async function deleteProject(tx: Queryable, id: string): Promise<void> {
  await tx.query("delete from projects where id = $1", [id]);
}

const ENV_COLUMNS = `name, value_enc as "valueEnc", kind, placeholder, inject, updated_at as "updatedAt"`;

/** The project's variables, every kind (`kinds` narrows them). */
export async function listEnv(db: Queryable, projectId: string, kinds?: VariableKind[]): Promise<EnvRow[]> {
  const { rows } = await db.query(`select ${ENV_COLUMNS} from project_env where project_id = $1 and ($2::text[] is null or kind = any($2)) order by name`, [
    projectId,
    kinds ?? null,
  ]);
  return rows as EnvRow[];
}

export interface NewVariable {
  name: string;
  valueEnc: string;
  kind: VariableKind;
  placeholder: string | null;
  inject: InjectRule[];
}

/** Sets a variable, whatever kind it had before. */
export async function setEnv(tx: Queryable, projectId: string, variable: NewVariable): Promise<void> {
  await tx.query(
    `insert into project_env (project_id, name, value_enc, kind, placeholder, inject) values ($1, $2, $3, $4, $5, $6)
     on conflict (project_id, name) do update
       set value_enc = excluded.value_enc, kind = excluded.kind, placeholder = excluded.placeholder, inject = excluded.inject, updated_at = now()`,
    [projectId, variable.name, variable.valueEnc, variable.kind, variable.placeholder, JSON.stringify(variable.inject)],
  );
}

export async function deleteEnv(tx: Queryable, projectId: string, name: string): Promise<void> {
  await tx.query("delete from project_env where project_id = $1 and name = $2", [projectId, name]);
}
