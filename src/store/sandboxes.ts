// Sandbox rows. Users write `desired` (bumping `generation`); the reconciler writes phase,
// stages and error, fenced by the generation it acted on.
import type { Desired, Phase, Stage } from "../domain/sandbox-lifecycle.ts";
import type { Queryable } from "./database.ts";

export interface SandboxRow {
  id: string;
  seq: number;
  projectId: string;
  ownerId: string;
  name: string;
  isPrimary: boolean;
  driver: "local" | "kubernetes";
  desired: Desired;
  generation: number;
  phase: Phase;
  stages: Stage[];
  error: { code: string; message: string } | null;
  keepWorkspace: boolean;
  /** What the driver reported about its compute (e.g. the local driver's host uid). */
  driverState: Record<string, unknown>;
  restartRequested: boolean;
  workspaceFrom: string | null;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `id, seq, project_id as "projectId", owner_id as "ownerId", name, is_primary as "isPrimary", driver, desired,
  generation, phase, stages, error, keep_workspace as "keepWorkspace", driver_state as "driverState",
  restart_requested as "restartRequested", workspace_from as "workspaceFrom", created_at as "createdAt", updated_at as "updatedAt"`;

export async function insertSandbox(tx: Queryable, row: Pick<SandboxRow, "id" | "projectId" | "ownerId" | "name" | "driver" | "stages">): Promise<SandboxRow> {
  // The newest workspace kept by a deleted sandbox of this project, if no one took it yet.
  const { rows } = await tx.query(
    `insert into sandboxes (id, project_id, owner_id, name, driver, desired, phase, stages, is_primary, workspace_from)
     values ($1, $2, $3, $4, $5, 'running', 'pending', $6,
             not exists (select 1 from sandboxes where project_id = $2 and phase <> 'deleted'),
             (select k.id from sandboxes k
               where k.project_id = $2 and k.phase = 'deleted' and k.keep_workspace
                 and not exists (select 1 from sandboxes t where t.workspace_from = k.id)
               order by k.seq desc limit 1))
     returning ${COLUMNS}`,
    [row.id, row.projectId, row.ownerId, row.name, row.driver, JSON.stringify(row.stages)],
  );
  return rows[0] as SandboxRow;
}

export async function findSandbox(db: Queryable, ownerId: string, ref: string, forUpdate = false): Promise<SandboxRow | null> {
  const { rows } = await db.query(`select ${COLUMNS} from sandboxes where owner_id = $1 and (id = $2 or name = $2)${forUpdate ? " for update" : ""}`, [
    ownerId,
    ref,
  ]);
  return (rows[0] as SandboxRow | undefined) ?? null;
}

export async function getSandbox(db: Queryable, id: string): Promise<SandboxRow | null> {
  const { rows } = await db.query(`select ${COLUMNS} from sandboxes where id = $1`, [id]);
  return (rows[0] as SandboxRow | undefined) ?? null;
}

export async function listSandboxes(
  db: Queryable,
  filter: { ownerId: string; projectId?: string; includeDeleted: boolean },
  afterSeq: number,
  limit: number,
): Promise<SandboxRow[]> {
  const { rows } = await db.query(
    `select ${COLUMNS} from sandboxes
      where owner_id = $1 and ($2::text is null or project_id = $2) and ($3 or phase <> 'deleted') and seq > $4
      order by seq limit $5`,
    [filter.ownerId, filter.projectId ?? null, filter.includeDeleted, afterSeq, limit],
  );
  return rows as SandboxRow[];
}

/** Ids of every sandbox the reconciler may still have work on. */
export async function liveSandboxIds(db: Queryable): Promise<string[]> {
  const { rows } = await db.query(`select id from sandboxes where phase <> 'deleted' order by seq`);
  return rows.map((r: { id: string }) => r.id);
}

export async function countLiveSandboxes(db: Queryable, projectId: string): Promise<number> {
  const { rows } = await db.query(`select count(*)::int as n from sandboxes where project_id = $1 and phase <> 'deleted'`, [projectId]);
  return (rows[0] as { n: number }).n;
}

/** A user's change of intent: bumps the generation so in-flight reconciler work is fenced off. */
export async function setDesired(tx: Queryable, id: string, desired: Desired, extra: { keepWorkspace?: boolean; restart?: boolean } = {}): Promise<SandboxRow> {
  const { rows } = await tx.query(
    `update sandboxes set desired = $2, generation = generation + 1, updated_at = now(),
            keep_workspace = coalesce($3, keep_workspace), restart_requested = coalesce($4, restart_requested)
      where id = $1 returning ${COLUMNS}`,
    [id, desired, extra.keepWorkspace ?? null, extra.restart ?? null],
  );
  return rows[0] as SandboxRow;
}

/** The reconciler's write: applies only if the generation is still the one it acted on. */
export async function writeObserved(
  tx: Queryable,
  id: string,
  generation: number,
  fields: { phase?: Phase; stages?: Stage[]; error?: SandboxRow["error"]; driverState?: Record<string, unknown>; restartRequested?: boolean },
): Promise<SandboxRow | null> {
  const { rows } = await tx.query(
    `update sandboxes set
        phase = coalesce($3, phase),
        stages = coalesce($4, stages),
        error = case when $5::boolean then $6::jsonb else error end,
        driver_state = coalesce($7::jsonb, driver_state),
        restart_requested = coalesce($8, restart_requested),
        updated_at = now()
      where id = $1 and generation = $2
      returning ${COLUMNS}`,
    [
      id,
      generation,
      fields.phase ?? null,
      fields.stages ? JSON.stringify(fields.stages) : null,
      "error" in fields,
      fields.error ? JSON.stringify(fields.error) : null,
      fields.driverState ? JSON.stringify(fields.driverState) : null,
      fields.restartRequested ?? null,
    ],
  );
  return (rows[0] as SandboxRow | undefined) ?? null;
}
