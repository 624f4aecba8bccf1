// Warm pool members (migrations/0015): running sandboxes kept per environment for the next
// creates. The capacity lock of store/sandboxes.ts counts them.
import type { Queryable } from "./database.ts";

export interface PoolMemberRow {
  id: string;
  environmentId: string;
  hostname: string;
  imageKey: string;
  state: "starting" | "ready";
  createdAt: Date;
}

const COLUMNS = `id, environment_id as "environmentId", hostname, image_key as "imageKey", state, created_at as "createdAt"`;

export async function insertPoolMember(db: Queryable, row: Pick<PoolMemberRow, "id" | "environmentId" | "hostname" | "imageKey">): Promise<void> {
  await db.query("insert into pool_members (id, environment_id, hostname, image_key, state) values ($1, $2, $3, $4, 'starting')", [
    row.id,
    row.environmentId,
    row.hostname,
    row.imageKey,
  ]);
}

export async function markPoolMemberReady(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query("update pool_members set state = 'ready' where id = $1 and state = 'starting'", [id]);
  return (rowCount ?? 0) > 0;
}

export async function deletePoolMember(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query("delete from pool_members where id = $1", [id]);
  return (rowCount ?? 0) > 0;
}

export async function poolMembers(db: Queryable, environmentId?: string): Promise<PoolMemberRow[]> {
  const { rows } = await db.query<PoolMemberRow>(
    `select ${COLUMNS} from pool_members ${environmentId ? "where environment_id = $1" : ""} order by created_at`,
    environmentId ? [environmentId] : [],
  );
  return rows;
}

/**
 * Takes the oldest ready member of the project's environment running `imageKey`, unless the
 * project has a kept workspace waiting for its next sandbox (that one needs a start of its
 * own). Deleted here: the caller inserts the project's sandbox under its id in the same
 * transaction. Skips members other transactions are claiming.
 */
export async function claimPoolMember(tx: Queryable, projectId: string, imageKey: string): Promise<{ id: string; hostname: string } | null> {
  const { rows } = await tx.query<{ id: string; hostname: string }>(
    `delete from pool_members where id = (
       select m.id from pool_members m join projects p on p.environment_id = m.environment_id
        where p.id = $1 and m.state = 'ready' and m.image_key = $2
          and not exists (select 1 from sandboxes k where k.project_id = $1 and k.phase = 'deleted' and k.keep_workspace
                            and not exists (select 1 from sandboxes t where t.workspace_from = k.id))
        order by m.created_at limit 1 for update of m skip locked)
     returning id, hostname`,
    [projectId, imageKey],
  );
  return rows[0] ?? null;
}
