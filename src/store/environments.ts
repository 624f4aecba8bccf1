// Environments and their builds (migrations/0013). An environment is installation-wide;
// projects point at one (projects.environment_id). A build row records one attempt to make
// an environment's layers: which setup key, how it went, and the tail of its log.
import type { EgressPolicy } from "../domain/egress-policy.ts";
import type { Queryable } from "./database.ts";

export interface EnvironmentRow {
  id: string;
  seq: number;
  name: string;
  ownerId: string;
  image: string;
  setup: string | null;
  maintenance: string | null;
  setupEnv: Record<string, string>;
  setupEgress: EgressPolicy;
  poolSize: number;
  createdAt: Date;
  updatedAt: Date;
}

export type EnvironmentFields = Pick<EnvironmentRow, "image" | "setup" | "maintenance" | "setupEnv" | "setupEgress" | "poolSize">;

export interface BuildRow {
  id: string;
  seq: number;
  environmentId: string;
  key: string;
  state: "building" | "ready" | "failed";
  cached: boolean;
  layers: string[];
  log: string;
  error: string | null;
  startedAt: Date;
  finishedAt: Date | null;
}

const FIELDS: Array<[string, string?]> = [
  ["id"],
  ["seq"],
  ["name"],
  ["owner_id", "ownerId"],
  ["image"],
  ["setup"],
  ["maintenance"],
  ["setup_env", "setupEnv"],
  ["setup_egress", "setupEgress"],
  ["pool_size", "poolSize"],
  ["created_at", "createdAt"],
  ["updated_at", "updatedAt"],
];
const columns = (table = "") => FIELDS.map(([column, as]) => `${table}${column}${as ? ` as "${as}"` : ""}`).join(", ");
const COLUMNS = columns();
const BUILD_COLUMNS = `id, seq, environment_id as "environmentId", key, state, cached, layers, log, error, started_at as "startedAt", finished_at as "finishedAt"`;

/** Null when the name is taken. */
export async function insertEnvironment(db: Queryable, row: { id: string; name: string; ownerId: string } & EnvironmentFields): Promise<EnvironmentRow | null> {
  const { rows } = await db.query<EnvironmentRow>(
    `insert into environments (id, name, owner_id, image, setup, maintenance, setup_env, setup_egress, pool_size)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9) on conflict (name) do nothing returning ${COLUMNS}`,
    [row.id, row.name, row.ownerId, row.image, row.setup, row.maintenance, JSON.stringify(row.setupEnv), JSON.stringify(row.setupEgress), row.poolSize],
  );
  return rows[0] ?? null;
}

export async function updateEnvironment(db: Queryable, id: string, fields: Partial<EnvironmentFields>): Promise<EnvironmentRow | null> {
  const columns: Record<keyof EnvironmentFields, string> = {
    image: "image",
    setup: "setup",
    maintenance: "maintenance",
    setupEnv: "setup_env",
    setupEgress: "setup_egress",
    poolSize: "pool_size",
  };
  const sets: string[] = [];
  const values: unknown[] = [id];
  for (const [key, column] of Object.entries(columns) as Array<[keyof EnvironmentFields, string]>) {
    if (fields[key] === undefined) continue;
    const value = fields[key];
    values.push(key === "setupEnv" || key === "setupEgress" ? JSON.stringify(value) : value);
    sets.push(`${column} = $${values.length}`);
  }
  const { rows } = await db.query<EnvironmentRow>(
    `update environments set ${[...sets, "updated_at = now()"].join(", ")} where id = $1 returning ${COLUMNS}`,
    values,
  );
  return rows[0] ?? null;
}

export async function findEnvironment(db: Queryable, ref: string): Promise<EnvironmentRow | null> {
  const { rows } = await db.query<EnvironmentRow>(`select ${COLUMNS} from environments where id = $1 or name = $1`, [ref]);
  return rows[0] ?? null;
}

export async function listEnvironments(db: Queryable): Promise<EnvironmentRow[]> {
  const { rows } = await db.query<EnvironmentRow>(`select ${COLUMNS} from environments order by name`);
  return rows;
}

export async function deleteEnvironment(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query("delete from environments where id = $1", [id]);
  return (rowCount ?? 0) > 0;
}

/** Names of the projects that use the environment. */
export async function projectsUsing(db: Queryable, environmentId: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>("select name from projects where environment_id = $1 order by name", [environmentId]);
  return rows.map((row) => row.name);
}

export async function setProjectEnvironment(db: Queryable, projectId: string, environmentId: string | null): Promise<void> {
  await db.query("update projects set environment_id = $2, updated_at = now() where id = $1", [projectId, environmentId]);
}

/** The environment a project's sandboxes start from (null: none, the host's /usr). */
export async function environmentOfProject(db: Queryable, projectId: string): Promise<EnvironmentRow | null> {
  const { rows } = await db.query<EnvironmentRow>(`select ${columns("e.")} from environments e join projects p on p.environment_id = e.id where p.id = $1`, [
    projectId,
  ]);
  return rows[0] ?? null;
}

export async function insertBuild(db: Queryable, row: { id: string; environmentId: string; key: string }): Promise<BuildRow> {
  const { rows } = await db.query<BuildRow>(
    `insert into environment_builds (id, environment_id, key, state) values ($1, $2, $3, 'building') returning ${BUILD_COLUMNS}`,
    [row.id, row.environmentId, row.key],
  );
  return rows[0] as BuildRow;
}

export async function writeBuildLog(db: Queryable, id: string, log: string): Promise<void> {
  await db.query("update environment_builds set log = $2 where id = $1", [id, log]);
}

export async function finishBuild(
  db: Queryable,
  id: string,
  outcome: { state: "ready" | "failed"; key: string; cached: boolean; layers: string[]; log: string; error: string | null },
): Promise<void> {
  await db.query("update environment_builds set state = $2, key = $3, cached = $4, layers = $5, log = $6, error = $7, finished_at = now() where id = $1", [
    id,
    outcome.state,
    outcome.key,
    outcome.cached,
    JSON.stringify(outcome.layers),
    outcome.log,
    outcome.error,
  ]);
}

/** The environment's latest build that succeeded (what a failed build falls back to). */
export async function latestGoodBuild(db: Queryable, environmentId: string): Promise<BuildRow | null> {
  const { rows } = await db.query<BuildRow>(
    `select ${BUILD_COLUMNS} from environment_builds where environment_id = $1 and state = 'ready' order by seq desc limit 1`,
    [environmentId],
  );
  return rows[0] ?? null;
}

export async function latestBuild(db: Queryable, environmentId: string): Promise<BuildRow | null> {
  const { rows } = await db.query<BuildRow>(`select ${BUILD_COLUMNS} from environment_builds where environment_id = $1 order by seq desc limit 1`, [
    environmentId,
  ]);
  return rows[0] ?? null;
}

/** Builds a control plane killed mid-way left `building` (started before `before`, when this
 *  one began: a build asked for since is this one's, under way): they failed. */
export async function failUnfinishedBuilds(db: Queryable, before: Date): Promise<number> {
  const { rowCount } = await db.query(
    "update environment_builds set state = 'failed', error = 'the control plane stopped during the build', finished_at = now() where state = 'building' and started_at < $1",
    [before],
  );
  return rowCount ?? 0;
}
